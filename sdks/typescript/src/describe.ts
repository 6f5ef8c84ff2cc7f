/** Names for values in error messages, in the protocol's words ("array", not "object"). */

/** The JSON type of a decoded value: "null", "boolean", "integer", "number", "string", "array", "object". */
export function jsonTypeName(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (typeof value === "number") return Number.isInteger(value) ? "integer" : "number";
  return typeof value;
}

/**
 * The name of a JavaScript value's type for a message about a wrong value: the class name of an object
 * ("Map", "Array", "Object") or the primitive type ("string", "number", "bigint").
 */
export function typeNameOf(value: unknown): string {
  if (value === null) return "null";
  if (typeof value === "object") {
    const name = (value as { constructor?: { name?: unknown } }).constructor?.name;
    return typeof name === "string" && name !== "" ? name : "Object";
  }
  return typeof value;
}

/** Whether `value` is a plain JSON-like object (not null, not an array). */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A UTF-16 surrogate without its other half: a string holding one is not Unicode text. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Whether `text` holds a lone surrogate, the one thing a JS string can hold that UTF-8 cannot
 * (a JSON `"\ud800"` escape decodes to one). `String.prototype.isWellFormed` would do, from Node 20.
 */
export function hasLoneSurrogate(text: string): boolean {
  return LONE_SURROGATE.test(text);
}

/** The code unit of the first lone surrogate in `text`, or undefined when there is none. */
export function firstLoneSurrogate(text: string): number | undefined {
  return LONE_SURROGATE.exec(text)?.[0].charCodeAt(0);
}

const LONE_SURROGATES = new RegExp(LONE_SURROGATE.source, "g");

/** `text` with each lone surrogate written out as the six characters `\udXXX`, so UTF-8 can carry it. */
export function escapeLoneSurrogates(text: string): string {
  return text.replace(LONE_SURROGATES, (unit) => `\\u${unit.charCodeAt(0).toString(16)}`);
}
