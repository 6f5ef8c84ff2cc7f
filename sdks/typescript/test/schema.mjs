// A validator for the part of JSON Schema 2020-12 the protocol's message schemas use (type, enum, const,
// required, properties, additionalProperties, minLength, minimum, maximum, allOf, if/then, not, local $ref),
// so that every line a handler writes is checked against protocol/schema/ without a dependency.
// It refuses any other keyword, so a schema that grows past it fails loudly instead of passing silently.

import { readFileSync } from "node:fs";

const PROTOCOL = new URL("../../../protocol/", import.meta.url);
const ANNOTATIONS = new Set(["$schema", "$id", "$defs", "title", "description", "default", "examples", "$comment"]);

function typeMatches(type, value) {
  switch (type) {
    case "object": return typeof value === "object" && value !== null && !Array.isArray(value);
    case "array": return Array.isArray(value);
    case "string": return typeof value === "string";
    case "number": return typeof value === "number";
    case "integer": return Number.isInteger(value);
    case "boolean": return typeof value === "boolean";
    case "null": return value === null;
    default: throw new Error(`unknown type ${type}`);
  }
}

function errorsFor(schema, value, root, path) {
  if (schema === true) return [];
  if (schema === false) return [`${path}: no value is allowed`];
  const errors = [];
  for (const [keyword, arg] of Object.entries(schema)) {
    if (ANNOTATIONS.has(keyword) || keyword === "then" || keyword === "additionalProperties") continue;
    switch (keyword) {
      case "type":
        if (![arg].flat().some((t) => typeMatches(t, value))) errors.push(`${path}: not of type ${arg}`);
        break;
      case "enum":
        if (!arg.some((v) => JSON.stringify(v) === JSON.stringify(value))) errors.push(`${path}: not one of ${JSON.stringify(arg)}`);
        break;
      case "const":
        if (JSON.stringify(arg) !== JSON.stringify(value)) errors.push(`${path}: not ${JSON.stringify(arg)}`);
        break;
      case "required":
        if (typeMatches("object", value)) for (const key of arg) if (!(key in value)) errors.push(`${path}: ${key} is required`);
        break;
      case "properties":
        if (typeMatches("object", value)) {
          for (const [key, sub] of Object.entries(arg)) {
            if (key in value) errors.push(...errorsFor(sub, value[key], root, `${path}.${key}`));
          }
        }
        break;
      case "minLength":
        if (typeof value === "string" && [...value].length < arg) errors.push(`${path}: shorter than ${arg}`);
        break;
      case "minimum":
        if (typeof value === "number" && value < arg) errors.push(`${path}: below ${arg}`);
        break;
      case "maximum":
        if (typeof value === "number" && value > arg) errors.push(`${path}: above ${arg}`);
        break;
      case "allOf":
        for (const sub of arg) errors.push(...errorsFor(sub, value, root, path));
        break;
      case "if":
        if (errorsFor(arg, value, root, path).length === 0 && schema.then !== undefined) {
          errors.push(...errorsFor(schema.then, value, root, path));
        }
        break;
      case "not":
        if (errorsFor(arg, value, root, path).length === 0) errors.push(`${path}: matches a schema it must not`);
        break;
      case "$ref": {
        const match = /^#\/\$defs\/(.+)$/.exec(arg);
        if (!match) throw new Error(`unsupported $ref ${arg}`);
        errors.push(...errorsFor(root.$defs[match[1]], value, root, path));
        break;
      }
      default:
        throw new Error(`schema keyword ${keyword} is not supported by test/schema.mjs`);
    }
  }
  if (schema.additionalProperties === false && typeMatches("object", value)) {
    for (const key of Object.keys(value)) if (!(key in (schema.properties ?? {}))) errors.push(`${path}: ${key} is not allowed`);
  } else if (typeof schema.additionalProperties === "object" && typeMatches("object", value)) {
    for (const [key, item] of Object.entries(value)) {
      if (!(key in (schema.properties ?? {}))) errors.push(...errorsFor(schema.additionalProperties, item, root, `${path}.${key}`));
    }
  }
  return errors;
}

/** Load protocol/schema/<name>.schema.json and return a function listing what `value` breaks. */
export function loadSchema(name) {
  const schema = JSON.parse(readFileSync(new URL(`schema/${name}.schema.json`, PROTOCOL), "utf8"));
  return (value) => errorsFor(schema, value, schema, "$");
}

/** Load protocol/vectors/<name>.json. */
export function loadVectors(name) {
  return JSON.parse(readFileSync(new URL(`vectors/${name}.json`, PROTOCOL), "utf8"));
}
