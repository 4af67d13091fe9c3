// Renders /openapi.json (the same document as /openapi.yaml) for reading: every operation,
// grouped by tag, with its parameters, body and answers; then the schemas. Built with DOM
// calls only, so no text of the document is ever run as markup.
"use strict";

/// Text with `code` spans and blank-line paragraphs, as the description writes it.
function prose(text) {
  const box = element("div", "prose");
  for (const paragraph of String(text || "").split(/\n\s*\n/)) {
    if (!paragraph.trim()) {
      continue;
    }
    const p = element("p");
    paragraph.split(/(`[^`]*`)/).forEach((piece) => {
      if (piece.startsWith("`") && piece.endsWith("`") && piece.length > 1) {
        p.append(element("code", "", piece.slice(1, -1)));
      } else if (piece) {
        p.append(document.createTextNode(piece.replace(/\s+/g, " ")));
      }
    });
    box.append(p);
  }
  return box;
}

function refName(ref) {
  return ref.split("/").pop();
}

/// A schema in one line: `Job`, `array of Job`, `string (binary)`, `one of: a, b`.
function schemaText(schema) {
  if (!schema) {
    return "";
  }
  if (schema.$ref) {
    return refName(schema.$ref);
  }
  if (schema.const !== undefined) {
    return JSON.stringify(schema.const);
  }
  if (schema.enum) {
    return `one of: ${schema.enum.join(", ")}`;
  }
  if (schema.type === "array") {
    return `array of ${schemaText(schema.items)}`;
  }
  let text = schema.type || "object";
  if (schema.format) {
    text += ` (${schema.format})`;
  }
  if (schema.properties) {
    text += ` {${Object.keys(schema.properties).join(", ")}}`;
  }
  return text;
}

function resolve(document, object) {
  if (object && object.$ref) {
    const path = object.$ref.replace(/^#\//, "").split("/");
    return path.reduce((node, key) => (node ? node[key] : undefined), document) || object;
  }
  return object;
}

function table(headings, rows) {
  const node = element("table");
  const head = element("tr");
  headings.forEach((heading) => head.append(element("th", "", heading)));
  node.append(head);
  for (const cells of rows) {
    const row = element("tr");
    cells.forEach((cell) => {
      const td = element("td");
      td.append(cell instanceof Node ? cell : document.createTextNode(String(cell)));
      row.append(td);
    });
    node.append(row);
  }
  return node;
}

function renderOperation(spec, path, pathItem, method, operation) {
  const box = element("details", "operation");
  box.id = `${method}-${path}`;
  const summary = element("summary");
  summary.append(element("span", `method method-${method}`, method.toUpperCase()),
                 element("span", "path", path), document.createTextNode(` ${operation.summary || ""}`));
  box.append(summary);
  if (operation.description) {
    box.append(prose(operation.description));
  }
  const alsoTags = (operation.tags || []).slice(1);
  if (alsoTags.length > 0) {
    box.append(prose(`Also answered as part of: ${alsoTags.join(", ")}.`));
  }
  const servers = pathItem.servers || operation.servers;
  if (servers) {
    box.append(prose(`Served by: ${servers.map((s) => `\`${s.url}\` (${s.description || ""})`).join(", ")}`));
  }
  if (operation.security) {
    const schemes = operation.security.flatMap((entry) => Object.keys(entry));
    box.append(prose(`Authentication: ${schemes.join(" or ")}`));
  }
  const parameters = [...(pathItem.parameters || []), ...(operation.parameters || [])]
    .map((p) => resolve(spec, p));
  if (parameters.length > 0) {
    box.append(element("h4", "", "Parameters"));
    box.append(table(["name", "in", "type", "meaning"], parameters.map((p) => [
      `${p.name}${p.required ? " (required)" : ""}`, p.in, schemaText(p.schema), p.description || "",
    ])));
  }
  if (operation.requestBody) {
    const body = resolve(spec, operation.requestBody);
    box.append(element("h4", "", "Request body"));
    box.append(table(["content type", "schema"], Object.entries(body.content || {})
      .map(([type, media]) => [type, schemaText(media.schema)])));
  }
  box.append(element("h4", "", "Answers"));
  box.append(table(["status", "meaning", "content"], Object.entries(operation.responses || {})
    .map(([status, answer]) => {
      const resolved = resolve(spec, answer);
      const content = Object.entries(resolved.content || {})
        .map(([type, media]) => `${type}: ${schemaText(media.schema)}`).join("; ");
      return [status, resolved.description || "", content];
    })));
  return box;
}

function render(spec) {
  document.title = `${spec.info.title} ${spec.info.version} API`;
  $("title").textContent = `${spec.info.title} API ${spec.info.version}`;
  const summary = $("summary");
  summary.append(element("p", "", spec.info.summary || ""), prose(spec.info.description));

  const operations = $("operations");
  const methods = ["get", "post", "put", "patch", "delete"];
  for (const tag of spec.tags || []) {
    operations.append(element("h2", "", tag.name));
    if (tag.description) {
      operations.append(prose(tag.description));
    }
    for (const [path, pathItem] of Object.entries(spec.paths || {})) {
      for (const method of methods) {
        const operation = pathItem[method];
        // Under its first tag; the others are named on it.
        if (operation && (operation.tags || [])[0] === tag.name) {
          operations.append(renderOperation(spec, path, pathItem, method, operation));
        }
      }
    }
  }

  const schemas = $("schemas");
  for (const [name, schema] of Object.entries((spec.components || {}).schemas || {})) {
    const box = element("section", "operation");
    box.id = `schema-${name}`;
    box.append(element("h3", "", name));
    if (schema.properties) {
      const required = new Set(schema.required || []);
      box.append(table(["field", "type", "meaning"], Object.entries(schema.properties)
        .map(([field, property]) => [`${field}${required.has(field) ? " (always)" : ""}`,
                                     schemaText(property), property.description || ""])));
    } else {
      box.append(element("p", "", schemaText(schema)));
    }
    schemas.append(box);
  }
}

document.addEventListener("DOMContentLoaded", async () => {
  try {
    const response = await fetch("openapi.json", { cache: "no-store" });
    if (!response.ok) {
      throw new Error(`status ${response.status}`);
    }
    render(await response.json());
  } catch (error) {
    const box = $("message");
    box.textContent = `The API description could not be loaded (${error.message}); ` +
      "read openapi.yaml instead.";
    box.hidden = false;
  }
});
