#!/usr/bin/env node
// Usage: node check.mjs [--manifests NAME=FILE]... [--dockerfile FILE] [--compose FILE]
//                       [--runtime-packages "pkg pkg ..."]
// Prints every problem found and exits 1 when there is one. deploy/check/run calls it with
// each rendered overlay.
import fs from "node:fs";
import { parseAllDocuments, parse } from "yaml";
import { validateAll } from "./schema.mjs";
import { checkAll, imagePinned } from "./policy.mjs";
import { checkCompose, checkDockerfile } from "./artifacts.mjs";

const args = process.argv.slice(2);
const problems = [];
for (let i = 0; i < args.length; i += 2) {
    const [flag, value] = [args[i], args[i + 1]];
    if (value === undefined) {
        console.error(`check: ${flag} needs a value`);
        process.exit(2);
    }
    if (flag === "--manifests") {
        const [name, file] = value.split("=");
        const documents = parseAllDocuments(fs.readFileSync(file, "utf8"));
        const errors = documents.flatMap((d) => d.errors.map((e) => e.message));
        const objects = documents.map((d) => d.toJS()).filter(Boolean);
        const found = [...errors, ...(await validateAll(objects)), ...checkAll(objects)];
        console.log(`${name}: ${objects.length} objects, ${found.length} problems`);
        problems.push(...found.map((p) => `${name}: ${p}`));
    } else if (flag === "--dockerfile") {
        const packages = (args[args.indexOf("--runtime-packages") + 1] ?? "").split(/\s+/)
            .filter(Boolean);
        const withPackages = args.includes("--runtime-packages") ? packages : [];
        const found = checkDockerfile(fs.readFileSync(value, "utf8"),
                                      { imagePinned, runtimePackages: withPackages });
        console.log(`Dockerfile: ${withPackages.length} linked packages checked, ${found.length} problems`);
        problems.push(...found);
    } else if (flag === "--compose") {
        const found = checkCompose(parse(fs.readFileSync(value, "utf8"), { merge: true }),
                                   { imagePinned });
        console.log(`compose.yaml: ${found.length} problems`);
        problems.push(...found);
    } else if (flag !== "--runtime-packages") {
        console.error(`check: unknown option ${flag}`);
        process.exit(2);
    }
}
for (const problem of problems) {
    console.log(`  PROBLEM ${problem}`);
}
process.exit(problems.length === 0 ? 0 : 1);
