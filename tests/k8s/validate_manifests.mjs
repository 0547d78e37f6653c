// Validates rendered Kubernetes objects against the Kubernetes API schemas bundled by the npm
// packages kubernetes-models and @kubernetes-models/prometheus-operator.
//
//   node validate_manifests.mjs NODE_MODULES_DIR < objects.json
//
// objects.json is an array of {"source": "<where it came from>", "object": {...}}. For each
// object the model class is picked by apiVersion and kind (an unknown pair is an error), then:
//   1. the class's schema validator checks types, enums and required fields;
//   2. unknown fields are found by watching that validator: it reads every property its schema
//      declares (`data.containerPort`) and enumerates the keys of free-form maps (labels, data),
//      so an own key it neither read nor enumerated is one the schema does not know. The models
//      themselves keep unknown fields on a round trip, so comparing with toJSON() would not do.
// Prints one line per problem and exits 1 if there is any; prints a summary and exits 0 if not.
// Packages are imported by file path: this script lives in the source tree, the packages in the
// build tree, and ESM imports do not consult NODE_PATH.

import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

const modulesDir = process.argv[2];
if (!modulesDir || !existsSync(modulesDir)) {
  console.error(`usage: node validate_manifests.mjs NODE_MODULES_DIR < objects.json`);
  process.exit(2);
}

// Custom resources' groups and the package that models them.
const crdPackages = { "monitoring.coreos.com": "@kubernetes-models/prometheus-operator" };

function modelFile(apiVersion, kind) {
  const slash = apiVersion.indexOf("/");
  const group = slash < 0 ? "" : apiVersion.slice(0, slash);
  const version = slash < 0 ? apiVersion : apiVersion.slice(slash + 1);
  const pkg = crdPackages[group] ?? "kubernetes-models";
  const dir = group === "" ? version : `${group}/${version}`;
  return path.join(modulesDir, pkg, dir, `${kind}.js`);
}

// Wraps `root` so that every property the validator reads, and every object whose keys it
// enumerates, is recorded. Returns the wrapped value and a function listing the paths of
// own keys that were neither read nor enumerated.
function track(root) {
  const read = new WeakMap();  // target -> Set of keys read
  const enumerated = new WeakSet();
  const proxies = new WeakMap();

  function wrap(value) {
    if (value === null || typeof value !== "object") {
      return value;
    }
    if (proxies.has(value)) {
      return proxies.get(value);
    }
    read.set(value, new Set());
    const proxy = new Proxy(value, {
      get(target, key, receiver) {
        if (typeof key === "string") {
          read.get(target).add(key);
        }
        return wrap(Reflect.get(target, key, receiver));
      },
      has(target, key) {
        if (typeof key === "string") {
          read.get(target).add(key);
        }
        return Reflect.has(target, key);
      },
      ownKeys(target) {
        enumerated.add(target);
        return Reflect.ownKeys(target);
      },
      getOwnPropertyDescriptor(target, key) {
        if (typeof key === "string") {
          read.get(target).add(key);
        }
        return Reflect.getOwnPropertyDescriptor(target, key);
      },
    });
    proxies.set(value, proxy);
    return proxy;
  }

  function unknown(value = root, where = "") {
    if (value === null || typeof value !== "object") {
      return [];
    }
    const found = [];
    const seen = read.get(value);
    for (const key of Object.keys(value)) {
      const child = Array.isArray(value) ? `${where}[${key}]` : `${where}.${key}`;
      if (!Array.isArray(value) && !enumerated.has(value) && !(seen && seen.has(key))) {
        found.push(child);
        continue;  // nothing below an unknown field was checked either
      }
      found.push(...unknown(value[key], child));
    }
    return found;
  }

  return { tracked: wrap(root), unknown: () => unknown() };
}

const entries = JSON.parse(readFileSync(0, "utf8"));
const problems = [];
let checked = 0;
for (const { source, object } of entries) {
  const name = `${source}: ${object?.kind ?? "?"}/${object?.metadata?.name ?? "?"}`;
  if (!object || typeof object.apiVersion !== "string" || typeof object.kind !== "string") {
    problems.push(`${name}: no apiVersion or kind`);
    continue;
  }
  const file = modelFile(object.apiVersion, object.kind);
  if (!existsSync(file)) {
    problems.push(`${name}: unknown kind ${object.kind} in ${object.apiVersion}`);
    continue;
  }
  const module = await import(pathToFileURL(file).href);
  const Model = module[object.kind];
  const { tracked, unknown } = track(structuredClone(object));
  try {
    Model.prototype.validate.call(tracked);
  } catch (error) {
    problems.push(`${name}: ${error.message}`);
  }
  for (const field of unknown()) {
    problems.push(`${name}: unknown field ${field.slice(1)}`);
  }
  checked += 1;
}

for (const problem of problems) {
  console.log(problem);
}
if (problems.length > 0) {
  process.exit(1);
}
console.log(`${checked} objects valid, no unknown fields`);
