// A tiny leveled logger. Libraries log through a Logger they are given; the CLI
// decides where lines go (stderr by default, a file with --log).
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

export function makeLogger(write: (line: string) => void, min: LogLevel = 'warn', tag = 'fuse4fs-ts'): Logger {
  const at = (lvl: LogLevel) => (msg: string) => {
    if (ORDER[lvl] >= ORDER[min]) write(`${tag}: ${lvl}: ${msg}`);
  };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

export const stderrLogger: Logger = makeLogger((l) => process.stderr.write(l + '\n'));

/** A logger that keeps lines in memory (tests). */
export function memoryLogger(min: LogLevel = 'debug'): Logger & { lines: string[] } {
  const lines: string[] = [];
  return Object.assign(makeLogger((l) => lines.push(l), min), { lines });
}
