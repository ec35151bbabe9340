// Writes the TypeScript types of an OpenAPI document with openapi-typescript:
// `node generate.mjs openapi.json tenantry.ts`.
//
// One adjustment: openapi-typescript writes a recursive schema whose alternatives include an
// array of itself (`JsonValue`, `MetadataValue`: any JSON value) as an interface property
// that refers to itself, which TypeScript rejects ("referenced directly or indirectly in its
// own type annotation"). Those two are written as one recursive type alias instead, the
// same JSON value; everything else is the generator's output as it is.
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import openapiTS, { astToString } from "openapi-typescript";
import ts from "typescript";

const [input, output] = process.argv.slice(2);
if (!input || !output) {
  console.error("usage: node generate.mjs OPENAPI_JSON OUTPUT_TS");
  process.exit(2);
}

const RECURSIVE = new Set(["#/components/schemas/JsonValue", "#/components/schemas/MetadataValue"]);
const seen = new Set();
const ast = await openapiTS(pathToFileURL(path.resolve(input)), {
  transform(_schema, metadata) {
    if (RECURSIVE.has(metadata.path)) {
      seen.add(metadata.path);
      return ts.factory.createTypeReferenceNode("JsonValue");
    }
    return undefined;
  },
});
if (seen.size !== RECURSIVE.size) {
  console.error(`the document no longer has ${[...RECURSIVE].filter((p) => !seen.has(p)).join(", ")}: update generate.mjs`);
  process.exit(1);
}
const alias = "\n/** Any JSON value. */\nexport type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };\n";
fs.writeFileSync(output, astToString(ast) + alias);
