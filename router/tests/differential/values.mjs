// Deterministic resolvers for any subgraph schema, so a fixture needs no hand-written data.
//
// Every value is a function of the object it belongs to, the field and its arguments, never of
// which subgraph answers: a @shareable field gives the same value wherever it is resolved, as
// federation requires. An entity's identity is a small number `n` carried by its key fields
// (`<field>-<n>`, or `n` for an Int key), so `_entities` rebuilds the same object from any key.
// A field that the composed supergraph says this subgraph must not be asked for (overridden
// away, or @external outside a @provides path) answers a poisoned value instead, so a router
// that reads it from the wrong place returns visibly wrong data.
import { Kind, parse, isAbstractType, isEnumType, isListType, isNonNullType, isObjectType, getNamedType, isScalarType } from 'graphql';

const IDENTITIES = 3;
const PROVIDED = Symbol('provided');

export function hash(text) {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/// The field names of a field set (`"id org { id }"`), as a nested map (name -> submap | null).
export function fieldSet(text) {
  const doc = parse(`{${text}}`);
  const walk = (set) => {
    const out = new Map();
    for (const s of set.selections) {
      if (s.kind === Kind.FIELD) out.set(s.name.value, s.selectionSet ? walk(s.selectionSet) : null);
      else if (s.selectionSet) for (const [k, v] of walk(s.selectionSet)) out.set(k, v);
    }
    return out;
  };
  return walk(doc.definitions[0].selectionSet);
}

function directiveArg(node, name, arg) {
  const d = node.directives?.find((d) => d.name.value === name);
  if (!d) return undefined;
  const a = d.arguments?.find((a) => a.name.value === arg);
  return a ? a.value.value : null;
}

/// Reads @key, @external, @requires and @provides from a subgraph's SDL.
export function subgraphDirectives(typeDefs) {
  const types = new Map();
  for (const def of typeDefs.definitions) {
    if (!def.name || !def.fields) continue;
    const info = types.get(def.name.value) ?? { keys: [], fields: new Map() };
    for (const d of def.directives ?? []) {
      if (d.name.value === 'key') info.keys.push(fieldSet(d.arguments.find((a) => a.name.value === 'fields').value.value));
    }
    for (const f of def.fields) {
      const requires = directiveArg(f, 'requires', 'fields');
      const provides = directiveArg(f, 'provides', 'fields');
      info.fields.set(f.name.value, {
        external: f.directives?.some((d) => d.name.value === 'external') || def.directives?.some((d) => d.name.value === 'external'),
        requires: requires ? fieldSet(requires) : null,
        provides: provides ? fieldSet(provides) : null,
      });
    }
    types.set(def.name.value, info);
  }
  return types;
}

/// Key field names per entity type, across every subgraph (from the supergraph's join__type).
export function entityKeys(supergraph) {
  const keys = new Map();
  for (const def of parse(supergraph).definitions) {
    if (!def.name || !def.directives) continue;
    for (const d of def.directives) {
      if (d.name.value !== 'join__type') continue;
      const key = d.arguments.find((a) => a.name.value === 'key');
      if (!key) continue;
      const set = keys.get(def.name.value) ?? new Map();
      for (const [k, v] of fieldSet(key.value.value)) set.set(k, v);
      keys.set(def.name.value, set);
    }
  }
  return keys;
}

/// `Type.field` names each subgraph may be asked for, from the supergraph's join__field.
/// A field without join__field is resolvable wherever its type is defined.
export function owners(supergraph) {
  const out = new Map();
  for (const def of parse(supergraph).definitions) {
    if (!def.name || !def.fields) continue;
    for (const f of def.fields) {
      const joins = (f.directives ?? []).filter((d) => d.name.value === 'join__field');
      if (joins.length === 0) continue;
      const graphs = new Set();
      for (const j of joins) {
        const arg = (n) => j.arguments.find((a) => a.name.value === n)?.value;
        const graph = arg('graph')?.value;
        if (!graph || arg('external')?.value === true || arg('usedOverridden')?.value === true) continue;
        graphs.add(graph);
        // A progressive override leaves the original subgraph serving until the label is on.
        if (arg('overrideLabel') && arg('override')) graphs.add(`@${arg('override').value}`);
      }
      out.set(`${def.name.value}.${f.name.value}`, graphs);
    }
  }
  return out;
}

/// The enum name of a graph in `join__Graph` for a subgraph name.
export function graphEnumNames(supergraph) {
  const names = new Map();
  for (const def of parse(supergraph).definitions) {
    if (def.kind !== Kind.ENUM_TYPE_DEFINITION || def.name.value !== 'join__Graph') continue;
    for (const v of def.values) {
      const d = v.directives.find((d) => d.name.value === 'join__graph');
      names.set(d.arguments.find((a) => a.name.value === 'name').value.value, v.name.value);
    }
  }
  return names;
}

function argsText(args) {
  const keys = Object.keys(args ?? {}).sort();
  return keys.length ? `(${keys.map((k) => `${k}:${JSON.stringify(args[k])}`).join(',')})` : '';
}

/// The identity carried by a representation's key values (`"sku-2"` or `2`).
function identityOf(value, keyFields) {
  if (keyFields && value && typeof value === 'object') {
    for (const k of keyFields.keys()) if (value[k] !== undefined) return identityOf(value[k]);
  }
  if (typeof value === 'number') return value;
  if (typeof value === 'string') {
    const m = /-(\d+)$/.exec(value);
    return m ? Number(m[1]) : 1;
  }
  if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) if (k !== '__typename') return identityOf(v);
  }
  return 1;
}

/// Members of each union that every subgraph defining it declares: a value of a union is
/// one of those, so it is the same value whichever subgraph resolves it.
export function sharedMembers(supergraph) {
  const out = new Map();
  for (const def of parse(supergraph).definitions) {
    if (def.kind !== Kind.UNION_TYPE_DEFINITION) continue;
    const graphs = new Map();
    for (const d of def.directives ?? []) {
      const arg = (n) => d.arguments.find((a) => a.name.value === n)?.value.value;
      if (d.name.value === 'join__type') graphs.set(arg('graph'), graphs.get(arg('graph')) ?? new Set());
      if (d.name.value === 'join__unionMember') {
        const set = graphs.get(arg('graph')) ?? new Set();
        set.add(arg('member'));
        graphs.set(arg('graph'), set);
      }
    }
    const sets = [...graphs.values()];
    if (sets.length === 0) continue;
    out.set(def.name.value, [...sets[0]].filter((m) => sets.every((s) => s.has(m))).sort());
  }
  return out;
}

export function resolversFor(name, schema, typeDefs, supergraph) {
  const local = subgraphDirectives(typeDefs);
  const keys = entityKeys(supergraph);
  const owned = owners(supergraph);
  const graph = graphEnumNames(supergraph).get(name);
  const shared = sharedMembers(supergraph);
  const sorted = (abstract) => {
    const here = schema.getPossibleTypes(abstract).map((t) => t.name).sort();
    const common = shared.get(abstract.name)?.filter((m) => here.includes(m));
    return common?.length ? common : here;
  };

  const mayResolve = (type, field, parent) => {
    const set = owned.get(`${type}.${field}`);
    const info = local.get(type)?.fields.get(field);
    if (info?.external) return parent[PROVIDED]?.has(field) ?? false;
    return !set || set.has(graph) || set.has(`@${graph}`) || set.size === 0;
  };

  const makeObject = (type, seed, provided) => {
    const named = getNamedType(type);
    let concrete = named.name;
    const n = 1 + (hash(seed) % IDENTITIES);
    if (isAbstractType(named)) {
      const options = sorted(named);
      concrete = options[n % options.length];
    }
    const object = keys.has(concrete) || keys.has(named.name)
      ? { __typename: concrete, __seed: `${concrete}#${n}`, __n: n }
      : { __typename: concrete, __seed: seed };
    if (provided) object[PROVIDED] = provided;
    return object;
  };

  const scalar = (type, typeName, field, parent, base, poisoned) => {
    const named = getNamedType(type);
    const keyed = parent.__n !== undefined && keys.get(typeName)?.has(field);
    if (isEnumType(named)) {
      const values = named.getValues().map((v) => v.name);
      return poisoned ? values[values.length - 1] : values[base % values.length];
    }
    switch (named.name) {
      case 'Int': return poisoned ? -999 : keyed ? parent.__n : base % 1000;
      case 'Float': return poisoned ? -9.5 : (base % 1000) / 4;
      case 'Boolean': return poisoned ? false : base % 2 === 0;
      default: return poisoned ? `WRONG-SUBGRAPH:${name}` : keyed ? `${field}-${parent.__n}` : `${field}-${base % 10000}`;
    }
  };

  const value = (type, typeName, field, parent, args, poisoned) => {
    const info = local.get(typeName)?.fields.get(field);
    let seed = `${poisoned ? 'WRONG' : ''}${parent.__seed}.${field}${argsText(args)}`;
    if (info?.requires) seed += JSON.stringify(pick(parent, info.requires));
    const base = hash(seed);
    const inner = isNonNullType(type) ? type.ofType : type;
    if (!isNonNullType(type) && base % 8 === 7 && !keys.get(typeName)?.has(field)) return null;
    if (isListType(inner)) {
      // Root lists are never empty: everything under them would go untested.
      const length = typeName === 'Query' ? 1 + (base % 3) : [1, 2, 3, 0, 2, 1][base % 6];
      return Array.from({ length }, (_, i) => element(inner.ofType, typeName, field, parent, `${seed}[${i}]`, poisoned, info));
    }
    return element(inner, typeName, field, parent, seed, poisoned, info);
  };

  const element = (type, typeName, field, parent, seed, poisoned, info) => {
    const named = getNamedType(type);
    if (isScalarType(named) || isEnumType(named)) return scalar(type, typeName, field, parent, hash(seed), poisoned);
    return makeObject(named, seed, info?.provides ?? parent[PROVIDED]?.get(field) ?? null);
  };

  const resolvers = {};
  for (const type of Object.values(schema.getTypeMap())) {
    if (type.name.startsWith('__') || type.name.startsWith('_') ) continue;
    if (isAbstractType(type)) {
      resolvers[type.name] = { __resolveType: (o) => o.__typename };
      if (keys.has(type.name)) resolvers[type.name].__resolveReference = (rep) => reference(type.name, rep, true);
      continue;
    }
    if (!isObjectType(type)) continue;
    const fields = {};
    for (const [fieldName, f] of Object.entries(type.getFields())) {
      if (fieldName.startsWith('_')) continue;
      fields[fieldName] = (parent, args) => {
        const object = parent ?? { __seed: type.name };
        if (Object.prototype.hasOwnProperty.call(object, fieldName)) return object[fieldName];
        const poisoned = !mayResolve(type.name, fieldName, object);
        return value(f.type, type.name, fieldName, object.__seed ? object : { ...object, __seed: type.name }, args, poisoned);
      };
    }
    if (keys.has(type.name)) fields.__resolveReference = (rep) => reference(type.name, rep, false);
    resolvers[type.name] = fields;
  }

  function reference(typeName, rep, abstract) {
    const n = identityOf(rep, keys.get(typeName));
    let concrete = rep.__typename;
    if (abstract) {
      const options = sorted(schema.getType(typeName));
      concrete = options[n % options.length];
    }
    return { ...rep, __typename: concrete, __seed: `${concrete}#${n}`, __n: n };
  }
  return resolvers;
}

function pick(parent, set) {
  const out = {};
  for (const [k, sub] of set) {
    const v = parent[k];
    out[k] = sub && v && typeof v === 'object' ? (Array.isArray(v) ? v.map((x) => pick(x, sub)) : pick(v, sub)) : v;
  }
  return out;
}
