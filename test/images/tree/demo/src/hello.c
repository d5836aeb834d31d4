#include <stdio.h>

int main(void) {
    puts("Hello from an ext4 image served by TypeScript!");
    return 0;
}
