#!/usr/bin/env node
// A fake Kubernetes API server for the node agent's label updates: HTTPS on 127.0.0.1 (run it inside
// the test's network namespace), the two calls the agent makes as kubelet, answered as kube-apiserver
// answers a node's credentials:
//   POST  /apis/authentication.k8s.io/v1/selfsubjectreviews  201, userInfo.username system:node:<identity>
//   PATCH /api/v1/nodes/<name>  (application/merge-patch+json)  200 with the Node; 404 while the Node
//         is not registered; 403 for another node's Node or for kubernetes.io / k8s.io labels
//         (the Node authorizer and NodeRestriction: kubernetes plugin/pkg/admission/noderestriction)
// Anything else, or a bearer token other than the state's: 401 / 404 as a Status.
//
// Usage: node fake-kube-api.cjs <state.json> <cert.pem> <key.pem> <requests.jsonl>
// prints "listening <port>". The state file is re-read on every request; a new `generation` resets
// the Nodes' labels to the state's:
//   { "token": "...", "identity": "<node name>", "nodes": { "<name>": { "labels": {} } }, "generation": 1 }
// Every request is appended to requests.jsonl: { method, path, contentType, authorization, body, status }.
'use strict';
const https = require('node:https');
const fs = require('node:fs');

const [statePath, certPath, keyPath, logPath] = process.argv.slice(2);
if (!logPath) {
  console.error('usage: fake-kube-api.cjs <state.json> <cert.pem> <key.pem> <requests.jsonl>');
  process.exit(2);
}
let generation;
let nodes = {};

function status(code, reason, message) {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
}

function forbiddenLabel(key) {
  const domain = key.includes('/') ? key.split('/')[0] : '';
  return ['kubernetes.io', 'k8s.io'].some((d) => domain === d || domain.endsWith(`.${d}`));
}

/** [status, body] for one request from the current state. */
function answer(state, req, body) {
  if (req.headers.authorization !== `Bearer ${state.token}`) return [401, status(401, 'Unauthorized', 'Unauthorized')];
  const url = new URL(req.url, 'https://api');
  if (req.method === 'POST' && url.pathname === '/apis/authentication.k8s.io/v1/selfsubjectreviews') {
    const groups = ['system:bootstrappers', 'system:nodes', 'system:authenticated'];
    return [201, { kind: 'SelfSubjectReview', apiVersion: 'authentication.k8s.io/v1', metadata: {}, status: { userInfo: { username: `system:node:${state.identity}`, groups } } }];
  }
  const node = /^\/api\/v1\/nodes\/([^/]+)$/.exec(url.pathname)?.[1];
  if (req.method !== 'PATCH' || node === undefined) return [404, status(404, 'NotFound', 'the server could not find the requested resource')];
  if (node !== state.identity) return [403, status(403, 'Forbidden', `nodes "${node}" is forbidden: node "${state.identity}" is not allowed to modify node "${node}"`)];
  if (req.headers['content-type'] !== 'application/merge-patch+json') return [415, status(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/merge-patch+json`)];
  if (!nodes[node]) return [404, status(404, 'NotFound', `nodes "${node}" not found`)];
  let patch;
  try {
    patch = JSON.parse(body);
  } catch {
    return [400, status(400, 'BadRequest', 'error decoding patch')];
  }
  const labels = patch?.metadata?.labels ?? {};
  const bad = Object.keys(labels).filter(forbiddenLabel);
  if (bad.length > 0) return [403, status(403, 'Forbidden', `nodes "${node}" is forbidden: is not allowed to modify labels: ${bad.join(', ')}`)];
  Object.assign(nodes[node].labels, labels);
  return [200, { kind: 'Node', apiVersion: 'v1', metadata: { name: node, labels: nodes[node].labels } }];
}

const server = https.createServer({ cert: fs.readFileSync(certPath), key: fs.readFileSync(keyPath) }, (req, res) => {
  let body = '';
  req.on('data', (d) => (body += d));
  req.on('end', () => {
    const state = JSON.parse(fs.readFileSync(statePath, 'utf8'));
    if (state.generation !== generation) {
      generation = state.generation;
      nodes = JSON.parse(JSON.stringify(state.nodes ?? {}));
    }
    const [code, reply] = answer(state, req, body);
    fs.appendFileSync(
      logPath,
      `${JSON.stringify({ method: req.method, path: req.url, contentType: req.headers['content-type'], authorization: req.headers.authorization, body, status: code })}\n`,
    );
    res.writeHead(code, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(reply));
  });
});

server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`listening ${server.address().port}\n`);
});
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => server.close(() => process.exit(0)));
