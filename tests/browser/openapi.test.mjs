// The API description against the OpenAPI 3.1 schema (npm @seriousme/openapi-schema-validator),
// and against what a running `serve` answers: every described operation exists, every
// answered route is described (the C++ test ApiDescriptionTest checks the route tables).
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { Validator } from "@seriousme/openapi-schema-validator";
import { sourceDir, startServe } from "./harness.mjs";

let serve;

before(async () => {
  serve = await startServe();
});

after(async () => {
  await serve?.stop();
});

test("web/openapi.yaml is a valid OpenAPI 3.1 document", async () => {
  const validator = new Validator();
  const text = fs.readFileSync(path.join(sourceDir, "web/openapi.yaml"), "utf8");
  const result = await validator.validate(text);
  assert.equal(validator.version, "3.1");
  assert.ok(result.valid, JSON.stringify(result.errors, null, 2));
});

test("/openapi.yaml is served as written and /openapi.json says the same", async () => {
  const yaml = await fetch(`${serve.url}/openapi.yaml`);
  assert.equal(yaml.status, 200);
  assert.match(yaml.headers.get("content-type"), /^application\/yaml/);
  assert.equal(await yaml.text(),
               fs.readFileSync(path.join(sourceDir, "web/openapi.yaml"), "utf8"));

  const json = await (await fetch(`${serve.url}/openapi.json`)).json();
  const validator = new Validator();
  const result = await validator.validate(json);
  assert.ok(result.valid, JSON.stringify(result.errors, null, 2));
  assert.equal(json.openapi, "3.1.0");
  assert.ok(json.paths["/upload"].post.responses["413"]);
  assert.equal(json.paths["/limits"].get.responses["200"].content["application/json"]
    .schema.properties.max_upload_bytes.type, "integer");
});

test("every described gateway operation is answered by serve, never as an unknown route",
     async () => {
  const spec = await (await fetch(`${serve.url}/openapi.json`)).json();
  for (const [route, item] of Object.entries(spec.paths)) {
    if (item.servers) {
      continue; // the auth service's own (/validate), checked by the C++ integration test
    }
    for (const method of ["get", "post", "delete"].filter((m) => item[m])) {
      const url = serve.url + route.replace("{id}", "0123456789abcdef01234567");
      const response = await fetch(url, { method: method.toUpperCase() });
      const body = await response.text();
      assert.ok(!/no such endpoint/.test(body) && response.status !== 405,
                `${method.toUpperCase()} ${route} answered ${response.status} ${body}`);
      const described = Object.keys(item[method].responses);
      assert.ok(described.includes(String(response.status)),
                `${method.toUpperCase()} ${route} answered ${response.status}, described: ${described}`);
    }
  }
});
