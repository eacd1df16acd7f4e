// `vigil k8s webhook-config`: the kubeconfig kube-apiserver's --audit-webhook-config-file needs to send its audit
// events to Vigil (docs/kubernetes.md).
import { readTarget, TargetError, webhookKubeconfig } from '../ship/index.ts';
import { CliError, defineCommand } from './command.ts';

export const k8sWebhookConfigCommand = defineCommand({
  name: ['k8s', 'webhook-config'],
  summary: "Print the kubeconfig for kube-apiserver's --audit-webhook-config-file",
  usage: `Usage: vigil k8s webhook-config --server URL [--ca-file F]
                              [--client-cert F --client-key F | --token-file F] [--reference]

Prints a kubeconfig whose cluster is the collector (--server, e.g. https://vigil.example:8443/audit/webhook/event;
a URL without a path gets /audit/webhook/event) trusted through --ca-file, and whose user is kube-apiserver with a
client certificate (its CN listed in the collector's auth.clientCerts) or a bearer token (auth.tokens, role ingest).
The files are read and checked, then embedded (*-data, token); --reference writes their absolute paths instead
(certificate-authority, client-certificate, client-key, tokenFile) for files mounted in the kube-apiserver pod.
`,
  options: {
    server: { type: 'string' },
    'ca-file': { type: 'string' },
    'client-cert': { type: 'string' },
    'client-key': { type: 'string' },
    'token-file': { type: 'string' },
    reference: { type: 'boolean' },
  },
  async run({ values }, io) {
    if (!values.server) throw new CliError('--server URL is required');
    try {
      const target = readTarget({
        server: values.server,
        caFile: values['ca-file'],
        clientCert: values['client-cert'],
        clientKey: values['client-key'],
        tokenFile: values['token-file'],
      });
      if (target.url.startsWith('http:') && target.token)
        io.stderr.write('vigil k8s webhook-config: warning: the token would cross the network in clear (http)\n');
      io.stdout.write(webhookKubeconfig(target, { reference: values.reference }));
    } catch (err) {
      if (err instanceof TargetError) throw new CliError(err.message);
      throw err;
    }
    return 0;
  },
});
