#!/usr/bin/env node
// A fake EC2 instance metadata service for the node agent's tests: IMDSv2 only (a GET without a
// valid session token gets 401, as on an instance with HttpTokens=required), the network/interfaces
// paths the agent reads, on 127.0.0.1 (run it inside the test's network namespace).
//
// Usage: node fake-imds.cjs <state.json>   prints "listening <port>" once it accepts connections.
// The state file is re-read on every request, so a test changes the instance by rewriting it:
//   { "interfaces": [ { "mac": "0a:..", "deviceNumber": 1, "networkCard": 0 (optional: absent → 404,
//                       as on single-card types), "subnet": "10.0.0.0/24", "prefixes": ["10.0.0.16/28"],
//                       "vpcCidrs": ["10.0.0.0/16"] (vpc-ipv4-cidr-blocks; absent → 404),
//                       "subnet" absent: an IPv6-only subnet (subnet-ipv4-cidr-block 404);
//                       "ipv6Subnet", "ipv6Prefixes", "ipv6s", "vpcIpv6Cidrs" (subnet-ipv6-cidr-blocks,
//                       ipv6-prefix, ipv6s, vpc-ipv6-cidr-blocks; absent or empty → 404),
//                       "listedAfter": N (optional: the first N requests naming this MAC answer 404
//                       and the MAC list leaves it out, as IMDS does for a while after an attach) } ],
//     "instanceId": "i-..." (optional), "localIpv4": "10.0.0.10" (optional), "generation": <number> (a new one restarts the listedAfter counts),
//     "fail": { "<path under meta-data/>": <HTTP status> } }   (optional: forced errors)
'use strict';
const http = require('node:http');
const fs = require('node:fs');
const crypto = require('node:crypto');

const statePath = process.argv[2];
if (!statePath) {
  console.error('usage: fake-imds.cjs <state.json>');
  process.exit(2);
}
const tokens = new Map(); // token -> expiry (ms)
let generation;
let asked = new Map(); // mac -> requests naming it, this generation

/** Whether IMDS lists the interface yet; a request naming it counts towards its listedAfter. */
function listed(state, eni, naming) {
  if (state.generation !== generation) {
    generation = state.generation;
    asked = new Map();
  }
  if (!eni.listedAfter) return true;
  const seen = asked.get(eni.mac) ?? 0;
  if (naming) asked.set(eni.mac, seen + 1);
  return seen >= eni.listedAfter;
}

/** A list as IMDS gives it, a line each; undefined (404) when absent or empty. */
function list(values) {
  return values && values.length > 0 ? values.join('\n') : undefined;
}

/** The body for a meta-data path, or undefined (404), for the current state. */
function metadata(state, path) {
  const macsPrefix = 'network/interfaces/macs/';
  const interfaces = state.interfaces ?? [];
  if (path === 'instance-id') return state.instanceId ?? 'i-0123456789abcdef0';
  if (path === 'local-ipv4') return state.localIpv4 ?? '10.0.0.10';
  // the primary ENI's MAC: device index 0 of network card 0
  if (path === 'mac') return interfaces.find((i) => i.deviceNumber === 0 && !i.networkCard)?.mac;
  if (path === macsPrefix) return interfaces.filter((i) => listed(state, i, false)).map((i) => `${i.mac}/`).join('\n');
  if (!path.startsWith(macsPrefix)) return undefined;
  const [mac, key, ...rest] = path.slice(macsPrefix.length).split('/');
  const eni = interfaces.find((i) => i.mac === mac);
  if (!eni || rest.length > 0 || !listed(state, eni, true)) return undefined;
  const fields = {
    mac: eni.mac,
    'device-number': String(eni.deviceNumber),
    'network-card': eni.networkCard === undefined ? undefined : String(eni.networkCard),
    'subnet-ipv4-cidr-block': eni.subnet,
    'ipv4-prefix': list(eni.prefixes),
    'vpc-ipv4-cidr-blocks': eni.vpcCidrs ? eni.vpcCidrs.join('\n') : undefined,
    'subnet-ipv6-cidr-blocks': eni.ipv6Subnet,
    'ipv6-prefix': list(eni.ipv6Prefixes),
    ipv6s: list(eni.ipv6s),
    'vpc-ipv6-cidr-blocks': list(eni.vpcIpv6Cidrs),
  };
  if (key === '' || key === undefined) {
    return Object.keys(fields).filter((k) => fields[k] !== undefined).join('\n');
  }
  return fields[key];
}

function send(res, status, body = '') {
  res.writeHead(status, { 'Content-Type': 'text/plain' });
  res.end(body);
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://imds');
  if (url.pathname === '/latest/api/token') {
    if (req.method !== 'PUT') return send(res, 405);
    const ttl = Number(req.headers['x-aws-ec2-metadata-token-ttl-seconds']);
    if (!Number.isInteger(ttl) || ttl < 1 || ttl > 21600) return send(res, 400);
    const token = crypto.randomBytes(24).toString('base64url');
    tokens.set(token, Date.now() + ttl * 1000);
    return send(res, 200, token);
  }
  if (req.method !== 'GET') return send(res, 405);
  const expiry = tokens.get(String(req.headers['x-aws-ec2-metadata-token'] ?? ''));
  if (expiry === undefined || expiry < Date.now()) return send(res, 401);
  if (!url.pathname.startsWith('/latest/meta-data/')) return send(res, 404);
  const path = url.pathname.slice('/latest/meta-data/'.length);
  const state = JSON.parse(fs.readFileSync(statePath, 'utf8'));
  const forced = state.fail?.[path];
  if (forced) return send(res, forced);
  const body = metadata(state, path);
  return body === undefined ? send(res, 404, 'Not Found') : send(res, 200, body);
});

server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`listening ${server.address().port}\n`);
});
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => server.close(() => process.exit(0)));
