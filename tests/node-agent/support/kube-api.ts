// Starts fake-kube-api.cjs (HTTPS, a certificate made here with openssl) inside a network namespace,
// and writes what the agent reads on a node instead of nodeadm: kubelet's kubeconfig, in the layout
// nodeadm writes (awslabs/amazon-eks-ami nodeadm/internal/kubelet/kubeconfig.template.yaml), whose
// credential command is a stand-in for `aws eks get-token` that records its arguments.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startListener, writeState } from './listener';
import { type Netns } from './netns';

export interface KubeApiState {
  /** the bearer token the server accepts (what the credential command prints) */
  token: string;
  /** the node kubelet's credentials are: system:node:<identity> */
  identity: string;
  /** registered Nodes and their labels */
  nodes: Record<string, { labels: Record<string, string> }>;
}

export interface KubeRequest {
  method: string;
  path: string;
  contentType?: string;
  authorization?: string;
  body: string;
  status: number;
}

export interface FakeKubeApi {
  server: string;
  ca: string;
  setState(state: KubeApiState): void;
  /** every request so far, in order */
  requests(): KubeRequest[];
  stop(): Promise<void>;
}

const SCRIPT = path.join(__dirname, 'fake-kube-api.cjs');
let generation = 0;

/** A self-signed certificate for 127.0.0.1 (fails loudly without openssl). */
function makeCertificate(dir: string): { cert: string; key: string } {
  const cert = path.join(dir, 'api.crt');
  const key = path.join(dir, 'api.key');
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
      '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert], { stdio: 'pipe' });
  } catch (err) {
    throw new Error(`openssl is needed for the fake Kubernetes API server's certificate: ${(err as Error).message}`);
  }
  return { cert, key };
}

export async function startFakeKubeApi(ns: Netns, dir: string, state: KubeApiState): Promise<FakeKubeApi> {
  fs.mkdirSync(dir, { recursive: true });
  const { cert, key } = makeCertificate(dir);
  const stateFile = path.join(dir, 'state.json');
  const log = path.join(dir, 'requests.jsonl');
  const setState = (s: KubeApiState) => writeState(stateFile, { ...s, generation: ++generation });
  setState(state);
  fs.writeFileSync(log, '');
  const { port, stop } = await startListener(ns, SCRIPT, [stateFile, cert, key, log], 'fake Kubernetes API server');
  return {
    server: `https://127.0.0.1:${port}`,
    ca: cert,
    setState,
    requests: () =>
      fs.readFileSync(log, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as KubeRequest),
    stop,
  };
}

/** kubelet's kubeconfig as nodeadm writes it, with `command` as its credential command. */
export function writeKubeconfig(file: string, server: string, ca: string, command: string): void {
  fs.writeFileSync(
    file,
    `---
apiVersion: v1
kind: Config
clusters:
  - name: kubernetes
    cluster:
      certificate-authority: ${ca}
      server: ${server}
current-context: kubelet
contexts:
  - name: kubelet
    context:
      cluster: kubernetes
      user: kubelet
users:
  - name: kubelet
    user:
      exec:
        apiVersion: client.authentication.k8s.io/v1beta1
        command: ${command}
        args:
          - "eks"
          - "get-token"
          - "--cluster-name"
          - "demo-cluster"
          - "--region"
          - "us-east-1"
`,
  );
}

/** A stand-in for `aws eks get-token`: records its arguments in `argsFile`, prints an ExecCredential with `token`. */
export function writeTokenCommand(file: string, argsFile: string, token: string): void {
  const credential = JSON.stringify({
    kind: 'ExecCredential',
    apiVersion: 'client.authentication.k8s.io/v1beta1',
    spec: {},
    status: { expirationTimestamp: '2030-01-01T00:00:00Z', token },
  }, null, 4);
  fs.writeFileSync(file, `#!/bin/sh\nprintf '%s\\n' "$@" > '${argsFile}'\ncat <<'EOF'\n${credential}\nEOF\n`, { mode: 0o755 });
}
