// Runs one application pattern with one Node.js Redis client at its default options and prints
// what the client saw as one JSON object, for the Python tests (tests/integration/
// test_clients_*.py) to assert on. Replies are normalised to one shape for every client, the
// same shape client_patterns.py gives redis-py's.
//
//   node client_patterns.mjs NODE_MODULES_DIR '{"client": "redis6", "resp": 2, "port": 6379,
//                                               "pattern": "transaction", "args": {...},
//                                               "deadline_ms": 20000}'
//
// client: "ioredis" (5.x), "ioredis6" (6.x), "redis4", "redis5", "redis6" (node-redis 4, 5, 6
// under npm aliases).
// resp: node-redis 5 and 6 (their RESP option) and ioredis 6 (its protocol option) only; null
// leaves the client's default (node-redis 6 and ioredis 6: RESP3). ioredis 5 and node-redis 4
// speak RESP2 only.
//
// Exit status: 0 with the pattern's result; 1 when the pattern threw (printed as {"error"});
// 3 when the deadline passed first (printed as {"timeout": true, "stage"}: where it was stuck).
// A client's own error events are reported in "client_errors" either way.

import { writeSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

const [modulesDir, specText] = process.argv.slice(2);
if (!modulesDir || !specText) {
  console.error("usage: node client_patterns.mjs NODE_MODULES_DIR SPEC_JSON");
  process.exit(2);
}
const spec = JSON.parse(specText);
// The packages live in the build tree and this script in the source tree; ESM ignores NODE_PATH.
const require = createRequire(path.join(modulesDir, "package.json"));

let stage = "start";
const clientErrors = [];

function finish(result, status) {
  result.client_errors = clientErrors;
  writeSync(1, JSON.stringify(result) + "\n");
  // Reconnect timers and half-open sockets must not keep a finished run alive.
  process.exit(status);
}

setTimeout(() => finish({ timeout: true, stage }, 3), spec.deadline_ms ?? 20000).unref();

// ---------------------------------------------------------------------------------------------
// One adapter per client family: the same operations through each library's own API.

class IoRedisAdapter {
  constructor(spec) {
    this.Redis = require(spec.client);
    this.spec = spec;
  }

  async connect() {
    const options = { host: spec.host ?? "127.0.0.1", port: spec.port };
    if (this.spec.resp !== null && this.spec.resp !== undefined) options.protocol = this.spec.resp;
    const client = new this.Redis(options);
    client.on("error", (err) => clientErrors.push(String(err?.message ?? err)));
    if (client.status !== "ready") {
      // The library would retry a failed handshake forever; a correct server never fails one.
      await new Promise((resolve, reject) => {
        client.once("ready", resolve);
        client.once("error", (err) => {
          client.disconnect();
          reject(new Error(`connecting: ${err?.message ?? err}`));
        });
      });
    }
    return client;
  }

  async close(client) {
    client.disconnect();
  }

  // MULTI ... EXEC. `commands` are [name, ...args]. Returns the replies, or null when EXEC was
  // aborted by WATCH; a refused transaction throws.
  async multiExec(client, commands) {
    let multi = client.multi();
    for (const [name, ...args] of commands) {
      multi = multi.call(name, ...args);
    }
    const replies = await multi.exec();
    if (replies === null) return null;
    return replies.map(([err, value]) => (err ? { error: err.message } : value));
  }

  async watchedIncrement(client, key) {
    await client.watch(key);
    const value = Number(await client.get(key));
    const replies = await client.multi().set(key, String(value + 1)).exec();
    return replies !== null;
  }

  defineIncrScript(client, lua) {
    client.defineCommand("incrByScript", { numberOfKeys: 1, lua });
    return (key, by) => client.incrByScript(key, by);
  }

  async scriptFlush(client) {
    return client.script("FLUSH");
  }

  async scriptLoad(client, lua) {
    return client.script("LOAD", lua);
  }

  async scriptExists(client, sha) {
    return (await client.script("EXISTS", sha)).map((x) => Number(x) === 1);
  }

  async evalSha(client, sha, key, arg) {
    return client.evalsha(sha, 1, key, arg);
  }

  async streamGroup(client, s, g) {
    const out = {};
    out.created = await client.xgroup("CREATE", s, g, "0", "MKSTREAM");
    out.ids = [];
    for (let i = 1; i <= 3; i++) out.ids.push(await client.xadd(s, "*", "n", String(i)));
    stage = "xreadgroup";
    const read = await client.xreadgroup("GROUP", g, "alice", "COUNT", 10, "STREAMS", s, ">");
    out.read = read.map(([name, entries]) => [name, entries.map(entry)]);
    out.acked = await client.xack(s, g, out.ids[0]);
    const [count, min, max, consumers] = await client.xpending(s, g);
    out.pending = { count, min, max, consumers: Object.fromEntries(
      consumers.map(([name, n]) => [name, Number(n)])) };
    out.claimed = (await client.xclaim(s, g, "bob", 0, out.ids[1])).map((e) => e[0]);
    const [next, claimed] = await client.xautoclaim(s, g, "carol", 0, "0-0", "COUNT", 10);
    out.autoclaimed = { next, ids: claimed.map((e) => e[0]) };
    out.groups = (await client.xinfo("GROUPS", s)).map(flatObject).map(groupSummary);
    out.consumers = Object.fromEntries((await client.xinfo("CONSUMERS", s, g)).map(flatObject)
      .map((c) => [c.name, Number(c.pending)]));
    out.length = Number(flatObject(await client.xinfo("STREAM", s)).length);
    out.xread = (await client.xread("COUNT", 10, "STREAMS", s, "0"))
      .map(([name, entries]) => [name, entries.map(entry)]);
    return out;
  }

  async bigPipeline(client, keys, values) {
    const pipeline = client.pipeline();
    keys.forEach((key, i) => pipeline.set(key, values[i]).get(key));
    const replies = await pipeline.exec();
    return replies.map(([err, value]) => (err ? { error: err.message } : value));
  }

  async setGet(client, key, value) {
    await client.set(key, value);
    return client.get(key);
  }

  async raw(client, args) {
    const [name, ...rest] = args;
    return client.call(name, ...rest);
  }

  // The plain commands of plainCommands(), through ioredis's own methods.
  async typed(client, k) {
    const out = {};
    out.set = await client.set(k.str, "value");
    out.get = await client.get(k.str);
    out.get_missing = await client.get(k.missing);
    out.mget = await client.mget(...k.every, k.missing);
    out.exists = await client.exists(...k.every, k.missing);
    out.incrbyfloat = await client.incrbyfloat(k.num, "1.5");
    out.hset = await client.hset(k.hash, { a: "1", b: "two" });
    out.hgetall = await client.hgetall(k.hash);
    out.hgetall_missing = await client.hgetall(k.missing);
    out.sadd = await client.sadd(k.set, 3, 1, 2);
    out.smembers = await client.smembers(k.set);
    out.zadd = await client.zadd(k.zset, 1.5, "half", "inf", "top", "-inf", "bottom");
    out.zscore = await client.zscore(k.zset, "half");
    out.zscore_inf = await client.zscore(k.zset, "top");
    out.zscore_missing = await client.zscore(k.zset, "nope");
    out.zrange = await client.zrange(k.zset, 0, -1, "WITHSCORES");
    out.lpop_missing = await client.lpop(k.missing);
    const pipeline = client.pipeline();
    k.every.forEach((key, i) => pipeline.set(key, `p${i}`).get(key).hgetall(k.hash)
      .zscore(k.zset, "half").get(k.missing));
    out.pipeline = (await pipeline.exec()).map(([err, value]) => (err ? { error: err.message }
                                                                       : value));
    out.del = await client.del(...k.every, k.missing);
    return out;
  }
}

class NodeRedisAdapter {
  constructor(spec) {
    this.lib = require(spec.client);
    this.major = Number(spec.client.slice("redis".length));
    this.spec = spec;
    this.scripts = {};
  }

  options(extra = {}) {
    const options = { socket: { host: spec.host ?? "127.0.0.1", port: spec.port }, ...extra };
    if (this.spec.resp !== null && this.spec.resp !== undefined) options.RESP = this.spec.resp;
    // node-redis 5 refuses XREAD and XREADGROUP in RESP3 unless told it accepts their raw RESP3
    // replies (node-redis 6 settled them).
    if (this.major === 5 && this.spec.resp === 3) options.unstableResp3 = true;
    return options;
  }

  async connect(extra) {
    const client = this.lib.createClient(this.options(extra));
    client.on("error", (err) => clientErrors.push(String(err?.message ?? err)));
    // The library would retry a failed handshake forever; a correct server never fails one.
    let failed;
    const firstError = new Promise((_, reject) => {
      failed = (err) => reject(new Error(`connecting: ${err?.message ?? err}`));
      client.once("error", failed);
    });
    try {
      await Promise.race([client.connect(), firstError]);
    } catch (err) {
      try {
        if (client.destroy) client.destroy();  // node-redis 5 and 6
        else await client.disconnect();
      } catch {
        // already closed: nothing to stop
      }
      throw err;
    }
    client.off("error", failed);
    firstError.catch(() => {});
    return client;
  }

  async close(client) {
    await client.disconnect();
  }

  async multiExec(client, commands) {
    const multi = client.multi();
    for (const args of commands) multi.addCommand(args.map(String));
    try {
      return await multi.exec();
    } catch (err) {
      if (err instanceof this.lib.WatchError) return null;
      throw err;
    }
  }

  async watchedIncrement(client, key) {
    await client.watch(key);
    const value = Number(await client.get(key));
    try {
      await client.multi().set(key, String(value + 1)).exec();
      return true;
    } catch (err) {
      if (err instanceof this.lib.WatchError) return false;
      throw err;
    }
  }

  // node-redis declares scripts when the client is created: connectWithScript() makes that
  // client, and the returned function calls the script by SHA.
  async connectWithScript(lua) {
    const definition = { NUMBER_OF_KEYS: 1, SCRIPT: lua };
    if (this.major >= 5) {
      definition.parseCommand = (parser, key, by) => {
        parser.pushKey(key);
        parser.push(String(by));
      };
      definition.transformReply = undefined;
    } else {
      definition.transformArguments = (key, by) => [key, String(by)];
      definition.transformReply = (reply) => reply;
    }
    const client = await this.connect({
      scripts: { incrByScript: this.lib.defineScript(definition) },
    });
    return [client, (key, by) => client.incrByScript(key, by)];
  }

  async scriptFlush(client) {
    return client.scriptFlush();
  }

  async scriptLoad(client, lua) {
    return client.scriptLoad(lua);
  }

  async scriptExists(client, sha) {
    return (await client.scriptExists(sha)).map((x) => x === true || Number(x) === 1);
  }

  async evalSha(client, sha, key, arg) {
    return client.evalSha(sha, { keys: [key], arguments: [String(arg)] });
  }

  async streamGroup(client, s, g) {
    const out = {};
    out.created = await client.xGroupCreate(s, g, "0", { MKSTREAM: true });
    out.ids = [];
    for (let i = 1; i <= 3; i++) out.ids.push(await client.xAdd(s, "*", { n: String(i) }));
    stage = "xreadgroup";
    out.read = streamsReply(await client.xReadGroup(g, "alice", { key: s, id: ">" },
      { COUNT: 10 }));
    out.acked = await client.xAck(s, g, out.ids[0]);
    const pending = await client.xPending(s, g);
    out.pending = {
      count: pending.pending,
      min: pending.firstId,
      max: pending.lastId,
      consumers: Object.fromEntries((pending.consumers ?? []).map(
        (c) => [c.name, Number(c.deliveriesCounter)])),
    };
    out.claimed = (await client.xClaim(s, g, "bob", 0, out.ids[1])).map((m) => m.id);
    const auto = await client.xAutoClaim(s, g, "carol", 0, "0-0", { COUNT: 10 });
    out.autoclaimed = { next: auto.nextId, ids: auto.messages.map((m) => m.id) };
    out.groups = (await client.xInfoGroups(s)).map((gr) => groupSummary(plain(gr)));
    out.consumers = Object.fromEntries((await client.xInfoConsumers(s, g)).map(plain)
      .map((c) => [c.name, Number(c.pending)]));
    out.length = Number(plain(await client.xInfoStream(s)).length);
    out.xread = streamsReply(await client.xRead({ key: s, id: "0" }, { COUNT: 10 }));
    return out;
  }

  async bigPipeline(client, keys, values) {
    // node-redis pipelines every command issued in the same tick (its documented automatic
    // pipelining): all of them are written before the first reply is awaited.
    const replies = await Promise.allSettled(keys.flatMap((key, i) => [
      client.set(key, values[i]), client.get(key)]));
    return replies.map((r) => (r.status === "fulfilled" ? r.value : { error: r.reason.message }));
  }

  async setGet(client, key, value) {
    await client.set(key, value);
    return client.get(key);
  }

  async raw(client, args) {
    return client.sendCommand(args.map(String));
  }

  // The plain commands of plainCommands(), through node-redis's own methods.
  async typed(client, k) {
    const out = {};
    out.set = await client.set(k.str, "value");
    out.get = await client.get(k.str);
    out.get_missing = await client.get(k.missing);
    out.mget = await client.mGet([...k.every, k.missing]);
    out.exists = await client.exists([...k.every, k.missing]);
    out.incrbyfloat = await client.incrByFloat(k.num, 1.5);
    out.hset = await client.hSet(k.hash, { a: "1", b: "two" });
    out.hgetall = await client.hGetAll(k.hash);
    out.hgetall_missing = await client.hGetAll(k.missing);
    out.sadd = await client.sAdd(k.set, ["3", "1", "2"]);
    out.smembers = await client.sMembers(k.set);
    out.zadd = await client.zAdd(k.zset, [{ score: 1.5, value: "half" },
      { score: Infinity, value: "top" }, { score: -Infinity, value: "bottom" }]);
    out.zscore = await client.zScore(k.zset, "half");
    out.zscore_inf = await client.zScore(k.zset, "top");
    out.zscore_missing = await client.zScore(k.zset, "nope");
    out.zrange = await client.zRangeWithScores(k.zset, 0, -1);
    out.lpop_missing = await client.lPop(k.missing);
    // Issued in one tick: node-redis writes them as one pipeline.
    out.pipeline = await Promise.all(k.every.flatMap((key, i) => [
      client.set(key, `p${i}`), client.get(key), client.hGetAll(k.hash),
      client.zScore(k.zset, "half"), client.get(k.missing)]));
    out.del = await client.del([...k.every, k.missing]);
    return out;
  }
}

// ---------------------------------------------------------------------------------------------
// Reply shapes, normalised.

function entry([id, fields]) {
  return [id, flatObject(fields)];
}

function flatObject(list) {
  const out = {};
  for (let i = 0; i + 1 < list.length; i += 2) out[String(list[i])] = list[i + 1];
  return out;
}

function plain(value) {
  if (value instanceof Map) return Object.fromEntries(value);
  return value;
}

function groupSummary(group) {
  return { name: String(group.name), consumers: Number(group.consumers),
           pending: Number(group.pending) };
}

// node-redis: [{name, messages: [{id, message}]}] (RESP2), or an object / Map keyed by stream
// name (RESP3), whose messages node-redis 5 leaves as raw [id, [field, value, ...]]; null when
// nothing was read.
function streamsReply(reply) {
  if (reply === null || reply === undefined) return [];
  const streams = Array.isArray(reply)
    ? reply.map((s) => [s.name, s.messages])
    : Object.entries(plain(reply)).map(([name, v]) => [name, v.messages ?? v]);
  return streams.map(([name, messages]) => [String(name), messages.map((m) => {
    if (Array.isArray(m)) return entry(m);
    return [m.id, Object.fromEntries(Object.entries(plain(m.message)).map(
      ([k, v]) => [k, String(v)]))];
  })]);
}

// A reply as JSON that keeps what the client made of it: a Map, a Set, a number that is not
// finite, a bigint, a Buffer and null stay distinguishable, so that the same client's results
// from two servers are equal only when it parsed the same replies.
function jsonable(value) {
  if (value === null || value === undefined) return value ?? null;
  if (typeof value === "number") return Number.isFinite(value) ? value : { number: String(value) };
  if (typeof value === "bigint") return { bigint: String(value) };
  if (Buffer.isBuffer(value)) return { buffer: value.toString() };
  if (value instanceof Error) return { error: value.message };
  if (value instanceof Map) return { map: [...value].map(([k, v]) => [jsonable(k), jsonable(v)]) };
  if (value instanceof Set) return { set: [...value].map(jsonable) };
  if (Array.isArray(value)) return value.map(jsonable);
  if (typeof value === "object") {
    const out = {};
    for (const [k, v] of Object.entries(value)) out[k] = jsonable(v);
    return { [value.constructor?.name === "Object" ? "object" : String(value.constructor?.name)]:
             out };
  }
  return value;
}

function normaliseReply(value) {
  if (typeof value === "bigint") return Number(value);
  if (Buffer.isBuffer(value)) return value.toString();
  if (Array.isArray(value)) return value.map(normaliseReply);
  return value;
}

// ---------------------------------------------------------------------------------------------
// The patterns. Each takes the adapter and the spec's args and returns a JSON-able result.

const patterns = {
  // MULTI / commands / EXEC on keys the caller chose: one shard (they share a hash tag), or
  // keys a proxy must refuse (across shards, or a queued command with the wrong arity).
  async transaction(adapter, args) {
    const client = await adapter.connect();
    stage = "exec";
    const out = {};
    try {
      const replies = await adapter.multiExec(client, args.commands);
      out.replies = replies === null ? null : replies.map(normaliseReply);
    } catch (err) {
      out.exec_error = String(err.message);
    }
    try {
      // The same connection afterwards: one left inside MULTI would answer +QUEUED.
      stage = "after";
      out.after = normaliseReply(await client.get(args.commands[0][1]));
      return out;
    } finally {
      await adapter.close(client);
    }
  },

  // Optimistic locking: WATCH k; GET k; MULTI; SET k v+1; EXEC; retry when EXEC is aborted.
  // First a forced conflict (another client writes between WATCH and EXEC) that must abort
  // the EXEC; then `clients` concurrent clients each add `increments`.
  async watch_increments(adapter, args) {
    const clients = [];
    for (let i = 0; i < args.clients; i++) clients.push(await adapter.connect());
    try {
      stage = "forced conflict";
      const [first, second] = clients;
      await first.watch(args.conflict_key);
      await first.get(args.conflict_key);
      await second.set(args.conflict_key, "written by another client");
      const committed = await adapter.multiExec(first, [["SET", args.conflict_key, "stale"]]);
      const conflictDetected = committed === null;
      stage = "increments";
      const retries = await Promise.all(clients.map(async (client) => {
        let retried = 0;
        for (let done = 0; done < args.increments;) {
          if (await adapter.watchedIncrement(client, args.key)) done++;
          else retried++;
        }
        return retried;
      }));
      return { conflict_detected: conflictDetected, retries };
    } finally {
      for (const client of clients) await adapter.close(client);
    }
  },

  // A script called by SHA through the client's own script support (ioredis defineCommand,
  // node-redis scripts), on a key of every shard; then SCRIPT FLUSH through the client and the
  // same calls again (each library reloads on NOSCRIPT itself); then SCRIPT LOAD once and
  // EVALSHA on every key.
  async scripts(adapter, args) {
    let client;
    let call;
    if (adapter instanceof IoRedisAdapter) {
      client = await adapter.connect();
      call = adapter.defineIncrScript(client, args.incr_lua);
    } else {
      [client, call] = await adapter.connectWithScript(args.incr_lua);
    }
    try {
      const out = {};
      stage = "defined script";
      out.before_flush = [];
      for (const key of args.keys) out.before_flush.push(Number(await call(key, 1)));
      stage = "script flush";
      out.flush = await adapter.scriptFlush(client);
      stage = "defined script after flush";
      out.after_flush = [];
      for (const key of args.keys) out.after_flush.push(Number(await call(key, 10)));
      stage = "script load";
      out.sha = await adapter.scriptLoad(client, args.set_lua);
      out.exists = await adapter.scriptExists(client, out.sha);
      stage = "evalsha";
      out.evalsha = [];
      for (const key of args.keys) {
        out.evalsha.push(normaliseReply(await adapter.evalSha(client, out.sha, key,
                                                              "by-sha:" + key)));
      }
      return out;
    } finally {
      await adapter.close(client);
    }
  },

  async stream_group(adapter, args) {
    const client = await adapter.connect();
    try {
      stage = "stream group";
      return await adapter.streamGroup(client, args.stream, args.group);
    } finally {
      await adapter.close(client);
    }
  },

  // `count` x (SET key value, GET key), all written before any reply is read; each value
  // `size` bytes and distinct, so a reply given to the wrong request is caught.
  async big_pipeline(adapter, args) {
    const keys = [];
    const values = [];
    for (let i = 0; i < args.count; i++) {
      keys.push(`${args.prefix}:${i}`);
      values.push(patternValue(`${args.prefix}:${i}`, args.size));
    }
    const client = await adapter.connect();
    try {
      stage = "pipeline";
      const replies = await adapter.bigPipeline(client, keys, values);
      let mismatches = 0;
      let first = null;
      replies.forEach((reply, i) => {
        const want = i % 2 === 0 ? "OK" : values[(i - 1) / 2];
        if (reply !== want) {
          mismatches++;
          if (first === null) {
            first = { index: i, got: JSON.stringify(reply).slice(0, 200) };
          }
        }
      });
      return { replies: replies.length, mismatches, first_mismatch: first };
    } finally {
      await adapter.close(client);
    }
  },

  // One value of `size` bytes: SET, then GET it back.
  async big_value(adapter, args) {
    const value = patternValue(args.key, args.size);
    const client = await adapter.connect();
    try {
      stage = "set and get";
      const got = await adapter.setGet(client, args.key, value);
      return { length: got === null ? null : got.length, equal: got === value };
    } finally {
      await adapter.close(client);
    }
  },

  // Which protocol the connection speaks: HELLO without a version reports it (and changes
  // nothing). A client that fell back to RESP2 shows here.
  async protocol(adapter) {
    const client = await adapter.connect();
    try {
      stage = "hello";
      let reply = await adapter.raw(client, ["HELLO"]);
      if (reply instanceof Map) reply = Object.fromEntries(reply);
      else if (Array.isArray(reply)) reply = flatObject(reply);
      return { proto: Number(reply.proto), hello_fields: Object.keys(reply).map(String) };
    } finally {
      await adapter.close(client);
    }
  },

  // Plain commands through the library's own methods, then the same ones raw (what the
  // client's parser made of each reply type), then a pipeline: keys on every shard, some
  // missing, maps, sets, doubles (1.5, inf) and nulls. Everything as jsonable() keeps it.
  async plain_commands(adapter, args) {
    const client = await adapter.connect();
    try {
      stage = "typed commands";
      const typed = await adapter.typed(client, args.keys);
      const out = { typed: Object.fromEntries(Object.entries(typed).map(
        ([name, value]) => [name, jsonable(value)])) };
      stage = "raw commands";
      out.raw = [];
      for (const command of args.raw) {
        try {
          out.raw.push(jsonable(await adapter.raw(client, command)));
        } catch (err) {
          out.raw.push({ error: String(err.message) });
        }
      }
      return out;
    } finally {
      await adapter.close(client);
    }
  },
};

// The same bytes as client_patterns.py's pattern_value(): a header naming the key, then filler.
function patternValue(key, size) {
  const head = `<${key}>`;
  return head + "x".repeat(Math.max(0, size - head.length));
}

async function main() {
  const adapter = spec.client.startsWith("ioredis") ? new IoRedisAdapter(spec)
                                                     : new NodeRedisAdapter(spec);
  const pattern = patterns[spec.pattern];
  if (!pattern) throw new Error(`unknown pattern ${spec.pattern}`);
  return pattern(adapter, spec.args ?? {});
}

main().then((result) => finish(result, 0),
            (err) => finish({ error: String(err?.stack ?? err).split("\n").slice(0, 3).join("\n"),
                              stage }, 1));
