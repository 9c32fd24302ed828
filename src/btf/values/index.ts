// Typed values: map keys and values (and global data) as plain JS, by BTF.
export { decodeBtfValue, type BtfValueOptions } from './decode.js';
export { encodeBtfValue, encodeBtfValueInto } from './encode.js';
export { toJsonValue } from './json.js';
export { valueFields, type ValueField } from './fields.js';
