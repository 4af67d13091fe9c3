// Validates Kubernetes objects against the Kubernetes API's JSON schemas, as packaged by
// kubernetes-models (tommy351/kubernetes-models-ts; pinned in package.json) and its KEDA
// models. An object of a kind no schema is known for is an error, not a pass.

const SOURCES = [
    // [apiVersion pattern, module prefix]
    [/^v1$/, "kubernetes-models/v1"],
    [/^keda\.sh\/(v1alpha1)$/, "@kubernetes-models/keda/keda.sh/$1"],
    [/^([a-z0-9.]+)\/(v[0-9a-z]+)$/, "kubernetes-models/$1/$2"],
];

function modulePath(apiVersion, kind) {
    if (!/^[A-Za-z]+$/.test(kind ?? "")) {
        return undefined;
    }
    for (const [pattern, prefix] of SOURCES) {
        if (pattern.test(apiVersion ?? "")) {
            return `${(apiVersion ?? "").replace(pattern, prefix)}/${kind}`;
        }
    }
    return undefined;
}

/// Returns a list of problems ("Deployment/gateway: data/spec/replicas must be integer").
export async function validateObject(object) {
    const at = `${object?.kind ?? "?"}/${object?.metadata?.name ?? "?"}`;
    const path = modulePath(object?.apiVersion, object?.kind);
    if (!path) {
        return [`${at}: apiVersion ${object?.apiVersion} is not one the check knows`];
    }
    let model;
    try {
        model = await import(path);
    } catch {
        return [`${at}: no schema for ${object.apiVersion} ${object.kind}`];
    }
    const Model = model[object.kind];
    // kustomize wraps long base64 values over several lines; the API server ignores the
    // line breaks (Go's base64 decoder skips them), the schema's "byte" format does not.
    const copy = structuredClone(object);
    if (copy.kind === "Secret" && copy.data) {
        for (const key of Object.keys(copy.data)) {
            copy.data[key] = String(copy.data[key]).replace(/\s+/g, "");
        }
    }
    try {
        new Model(copy).validate();
        return [];
    } catch (error) {
        return [`${at}: ${error.message}`];
    }
}

export async function validateAll(objects) {
    const problems = [];
    for (const object of objects) {
        problems.push(...(await validateObject(object)));
    }
    return problems;
}
