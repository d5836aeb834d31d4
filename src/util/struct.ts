// Declarative binary structs (DESIGN.md habit 1).
//
// A struct is declared once as a table of fields (offset, type, kernel field
// name, meaning) and compiled at load into a class whose getters/setters read
// one cached DataView. Size and overlap are checked when the table is compiled,
// so a typo in an offset fails at import time, not at run time.
//
// Little-endian types: u8 u16 u32 u64 s8 s16 s32. Big-endian (jbd2): be16 be32 be64.
// `bytes` fields return a subarray view (no copy) of `size` bytes.
// 64-bit values are returned as numbers; values above 2^53 throw a RangeError
// (callers at the parse boundary turn that into a corruption error).

export type ScalarType = 'u8' | 'u16' | 'u32' | 'u64' | 's8' | 's16' | 's32' | 'be16' | 'be32' | 'be64';
export type FieldType = ScalarType | 'bytes';

export interface FieldSpec {
  readonly name: string;
  readonly offset: number;
  readonly type: FieldType;
  /** Only for 'bytes'. */
  readonly size?: number;
  readonly doc?: string;
}

const WIDTH: Record<ScalarType, number> = {
  u8: 1, s8: 1, u16: 2, s16: 2, be16: 2, u32: 4, s32: 4, be32: 4, u64: 8, be64: 8,
};

type ValueOf<F extends FieldSpec> = F['type'] extends 'bytes' ? Uint8Array : number;

/** Instance type of a compiled struct: one property per field. */
export type StructFields<F extends readonly FieldSpec[]> = {
  -readonly [K in F[number] as K['name']]: ValueOf<K>;
};

/**
 * The backing bytes and the struct's offset in them. The names start with '$'
 * so they can never hide a field (kernel structs have fields named `offset`).
 */
export interface StructView {
  readonly $bytes: Uint8Array;
  readonly $offset: number;
}

export interface StructClass<F extends readonly FieldSpec[]> {
  new (bytes: Uint8Array, offset?: number): StructFields<F> & StructView;
  readonly structName: string;
  readonly size: number;
  readonly fields: F;
  /** Field by kernel name (for inspect/--json dumps). */
  field(name: string): FieldSpec | undefined;
}

const TWO32 = 0x1_0000_0000;

/** Split a non-negative safe integer into lo/hi u32 halves. */
export function splitU64(v: number): [lo: number, hi: number] {
  if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`not a u64 safe integer: ${v}`);
  return [v % TWO32, Math.floor(v / TWO32)];
}

/** Combine lo/hi u32 halves; rejects values above 2^53 rather than rounding. */
export function joinU64(lo: number, hi: number): number {
  const v = hi * TWO32 + lo;
  if (hi >= 0x20_0000) throw new RangeError(`64-bit value above 2^53 (hi=0x${hi.toString(16)})`);
  return v;
}

class DataViewCache {
  // One DataView per backing ArrayBuffer region; structs over the same Uint8Array share it.
  static get(bytes: Uint8Array): DataView {
    let dv = (bytes as unknown as { __dv?: DataView }).__dv;
    if (dv === undefined) {
      dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      Object.defineProperty(bytes, '__dv', { value: dv, enumerable: false });
    }
    return dv;
  }
}

/** The cached DataView over a Uint8Array (created once per array). */
export function viewOf(bytes: Uint8Array): DataView {
  return DataViewCache.get(bytes);
}

export function defineStruct<const F extends readonly FieldSpec[]>(
  structName: string,
  size: number,
  fields: F,
): StructClass<F> {
  // Check size and overlap at load.
  const cover = new Uint8Array(size);
  for (const f of fields) {
    if (f.name.startsWith('$')) throw new Error(`${structName}.${f.name}: field names may not start with '$'`);
    const w = f.type === 'bytes' ? f.size ?? -1 : WIDTH[f.type];
    if (w <= 0) throw new Error(`${structName}.${f.name}: bytes field needs a size`);
    if (f.offset < 0 || f.offset + w > size) {
      throw new Error(`${structName}.${f.name}: offset ${f.offset}+${w} outside struct size ${size}`);
    }
    for (let i = f.offset; i < f.offset + w; i++) {
      if (cover[i]) throw new Error(`${structName}.${f.name}: overlaps another field at byte ${i}`);
      cover[i] = 1;
    }
  }

  class Compiled {
    readonly $bytes: Uint8Array;
    readonly $offset: number;
    readonly $dv: DataView;
    constructor(bytes: Uint8Array, offset = 0) {
      if (offset < 0 || offset + size > bytes.length) {
        throw new RangeError(`${structName}: ${size} bytes at offset ${offset} exceed buffer of ${bytes.length}`);
      }
      this.$bytes = bytes;
      this.$offset = offset;
      this.$dv = DataViewCache.get(bytes);
    }
    static readonly structName = structName;
    static readonly size = size;
    static readonly fields = fields;
    static field(name: string): FieldSpec | undefined {
      return fields.find((f) => f.name === name);
    }
  }

  const proto = Compiled.prototype as unknown as Record<string, unknown>;
  for (const f of fields) {
    const o = f.offset;
    let desc: PropertyDescriptor;
    switch (f.type) {
      case 'u8':
        desc = { get(this: Compiled) { return this.$dv.getUint8(this.$offset + o); },
          set(this: Compiled, v: number) { this.$dv.setUint8(this.$offset + o, v); } };
        break;
      case 's8':
        desc = { get(this: Compiled) { return this.$dv.getInt8(this.$offset + o); },
          set(this: Compiled, v: number) { this.$dv.setInt8(this.$offset + o, v); } };
        break;
      case 'u16':
        desc = { get(this: Compiled) { return this.$dv.getUint16(this.$offset + o, true); },
          set(this: Compiled, v: number) { this.$dv.setUint16(this.$offset + o, v, true); } };
        break;
      case 's16':
        desc = { get(this: Compiled) { return this.$dv.getInt16(this.$offset + o, true); },
          set(this: Compiled, v: number) { this.$dv.setInt16(this.$offset + o, v, true); } };
        break;
      case 'be16':
        desc = { get(this: Compiled) { return this.$dv.getUint16(this.$offset + o, false); },
          set(this: Compiled, v: number) { this.$dv.setUint16(this.$offset + o, v, false); } };
        break;
      case 'u32':
        desc = { get(this: Compiled) { return this.$dv.getUint32(this.$offset + o, true); },
          set(this: Compiled, v: number) { this.$dv.setUint32(this.$offset + o, v >>> 0, true); } };
        break;
      case 's32':
        desc = { get(this: Compiled) { return this.$dv.getInt32(this.$offset + o, true); },
          set(this: Compiled, v: number) { this.$dv.setInt32(this.$offset + o, v, true); } };
        break;
      case 'be32':
        desc = { get(this: Compiled) { return this.$dv.getUint32(this.$offset + o, false); },
          set(this: Compiled, v: number) { this.$dv.setUint32(this.$offset + o, v >>> 0, false); } };
        break;
      case 'u64':
        desc = {
          get(this: Compiled) {
            return joinU64(this.$dv.getUint32(this.$offset + o, true), this.$dv.getUint32(this.$offset + o + 4, true));
          },
          set(this: Compiled, v: number) {
            const [lo, hi] = splitU64(v);
            this.$dv.setUint32(this.$offset + o, lo, true);
            this.$dv.setUint32(this.$offset + o + 4, hi, true);
          },
        };
        break;
      case 'be64':
        desc = {
          get(this: Compiled) {
            return joinU64(this.$dv.getUint32(this.$offset + o + 4, false), this.$dv.getUint32(this.$offset + o, false));
          },
          set(this: Compiled, v: number) {
            const [lo, hi] = splitU64(v);
            this.$dv.setUint32(this.$offset + o, hi, false);
            this.$dv.setUint32(this.$offset + o + 4, lo, false);
          },
        };
        break;
      case 'bytes': {
        const n = f.size!;
        desc = {
          get(this: Compiled) { return this.$bytes.subarray(this.$offset + o, this.$offset + o + n); },
          set(this: Compiled, v: Uint8Array) {
            if (v.length > n) throw new RangeError(`${structName}.${f.name}: ${v.length} bytes > ${n}`);
            this.$bytes.fill(0, this.$offset + o, this.$offset + o + n);
            this.$bytes.set(v, this.$offset + o);
          },
        };
        break;
      }
    }
    desc.enumerable = true;
    Object.defineProperty(proto, f.name, desc);
  }
  return Compiled as unknown as StructClass<F>;
}

/** Every scalar field of a struct as a plain object (for --json and inspect). */
export function structToObject(s: StructView & object, cls: { fields: readonly FieldSpec[] }): Record<string, number | string> {
  const out: Record<string, number | string> = {};
  const rec = s as unknown as Record<string, unknown>;
  for (const f of cls.fields) {
    if (f.type === 'bytes') {
      out[f.name] = Buffer.from(rec[f.name] as Uint8Array).toString('hex');
    } else {
      try {
        out[f.name] = rec[f.name] as number;
      } catch {
        out[f.name] = 'out of range';
      }
    }
  }
  return out;
}
