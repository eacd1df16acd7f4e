// The policy checker's behaviour as data. The first table restates the cases of kube-apiserver's
// pkg/audit/policy/checker_test.go (same requests, rules and expectations, our own names); the second adds
// the surprises of reference §2.5 and the corners of checker.go that upstream does not test.
import type { Level, Stage } from '../../src/event/model.ts';
import type { PolicyRule, RequestAttributes } from '../../src/policy/types.ts';

const tim = { username: 'tim@k8s.io', groups: ['humans', 'developers'] };

function resource(a: Partial<RequestAttributes>): RequestAttributes {
  return {
    user: tim,
    verb: 'get',
    resourceRequest: true,
    path: '',
    namespace: '',
    apiGroup: '',
    resource: '',
    subresource: '',
    name: '',
    ...a,
  };
}

function nonResource(path: string, a: Partial<RequestAttributes> = {}): RequestAttributes {
  return resource({ resourceRequest: false, path, ...a });
}

/** Requests, by name. */
export const requests = {
  // upstream "namespaced"
  podGet: resource({
    namespace: 'default',
    resource: 'pods',
    name: 'busybox',
    path: '/api/v1/namespaces/default/pods/busybox',
  }),
  // upstream "cluster"
  clusterRoleGet: resource({
    apiGroup: 'rbac.authorization.k8s.io',
    resource: 'clusterroles',
    name: 'edit',
    path: '/apis/rbac.authorization.k8s.io/v1beta1/clusterroles/edit',
  }),
  // upstream "nonResource"
  logsGet: nonResource('/logs/kubelet.log'),
  // upstream "subresource"
  podLogGet: resource({
    namespace: 'default',
    resource: 'pods',
    subresource: 'log',
    name: 'busybox',
    path: '/api/v1/namespaces/default/pods/busybox/log',
  }),
  // upstream "Unauthorized": authentication failed, so there is no user.
  anonymousPodGet: resource({
    user: undefined,
    namespace: 'default',
    resource: 'pods',
    name: 'busybox',
    path: '/api/v1/namespaces/default/pods/busybox',
  }),
  // upstream "ClusterRoleUpdate"
  clusterRoleStatusUpdate: resource({
    verb: 'update',
    apiGroup: 'rbac.authorization.k8s.io',
    resource: 'clusterroles',
    subresource: 'status',
    name: 'somerole',
    path: '/apis/rbac.authorization.k8s.io/v1beta1/clusterroles/somerole/status',
  }),
  // --- requests for the extra cases ---
  podList: resource({ verb: 'list', namespace: 'default', resource: 'pods', path: '/api/v1/namespaces/default/pods' }),
  // GET /api/v1/pods: an all-namespace list has namespace "".
  podListAllNamespaces: resource({ verb: 'list', resource: 'pods', path: '/api/v1/pods' }),
  // GET /api/v1/namespaces/kube-system: the namespace object is in its own namespace.
  namespaceGet: resource({
    namespace: 'kube-system',
    resource: 'namespaces',
    name: 'kube-system',
    path: '/api/v1/namespaces/kube-system',
  }),
  deploymentGet: resource({
    namespace: 'default',
    apiGroup: 'apps',
    resource: 'deployments',
    name: 'web',
    path: '/apis/apps/v1/namespaces/default/deployments/web',
  }),
  deploymentScaleUpdate: resource({
    verb: 'update',
    namespace: 'default',
    apiGroup: 'apps',
    resource: 'deployments',
    subresource: 'scale',
    name: 'web',
    path: '/apis/apps/v1/namespaces/default/deployments/web/scale',
  }),
  healthz: nonResource('/healthz'),
  healthzfoo: nonResource('/healthzfoo'),
  logsRoot: nonResource('/logs'),
  version: nonResource('/version'),
  versionSlash: nonResource('/version/'),
  appsDiscovery: nonResource('/apis/apps/v1'),
  upperCaseHealthz: nonResource('/HEALTHZ'),
  noGroupsUser: resource({ user: { username: 'bob' }, namespace: 'default', resource: 'pods', name: 'busybox' }),
  emptyUser: resource({ user: {}, namespace: 'default', resource: 'pods', name: 'busybox' }),
  literalStarResource: resource({ resource: '*', subresource: '*', name: 'x' }),
} satisfies Record<string, RequestAttributes>;

export type RequestName = keyof typeof requests;

/** Rules, by name. */
export const rules = {
  // --- upstream rules ---
  default: { level: 'Metadata' },
  create: { level: 'Request', verbs: ['create'] },
  tims: { level: 'Metadata', users: ['tim@k8s.io'] },
  humans: { level: 'Metadata', userGroups: ['humans'] },
  serviceAccounts: { level: 'Request', userGroups: ['system:serviceaccounts'] },
  getPods: { level: 'RequestResponse', verbs: ['get'], resources: [{ resources: ['pods'] }] },
  getPodLogs: { level: 'Request', verbs: ['get'], resources: [{ resources: ['pods/log'] }] },
  getAnyResource: { level: 'Request', verbs: ['get'], resources: [{ resources: ['*'] }] },
  getAnyLogSubresource: { level: 'Request', verbs: ['get'], resources: [{ resources: ['*/log'] }] },
  getAnyPodSubresource: { level: 'Request', verbs: ['get'], resources: [{ resources: ['pods/*'] }] },
  getClusterRoles: {
    level: 'RequestResponse',
    verbs: ['get'],
    resources: [{ group: 'rbac.authorization.k8s.io', resources: ['clusterroles'] }],
    namespaces: [''],
  },
  updateAnyStatusAnyGroup: {
    level: 'RequestResponse',
    verbs: ['update'],
    resources: [{ group: '*', resources: ['*/status'] }],
  },
  getLogs: { level: 'RequestResponse', verbs: ['get'], nonResourceURLs: ['/logs*'] },
  getMetrics: { level: 'Request', verbs: ['get'], nonResourceURLs: ['/metrics'] },
  clusterRoleEdit: {
    level: 'Request',
    resources: [{ group: 'rbac.authorization.k8s.io', resources: ['clusterroles'], resourceNames: ['edit'] }],
  },
  omitRequestReceived: { level: 'Request', omitStages: ['RequestReceived'] },
  onlyPanic: { level: 'Request', omitStages: ['RequestReceived', 'ResponseStarted', 'ResponseComplete'] },
  // --- rules for the extra cases ---
  none: { level: 'None' },
  noneOmitPanic: { level: 'None', omitStages: ['Panic'] },
  podsAnySubresource: { level: 'Request', resources: [{ resources: ['pods/*'] }] },
  anyResource: { level: 'Request', resources: [{ resources: ['*'] }] },
  anyScale: { level: 'Request', resources: [{ group: '*', resources: ['*/scale'] }] },
  deploymentsNoGroup: { level: 'Request', resources: [{ resources: ['deployments'] }] },
  appsGroupAllResources: { level: 'Request', resources: [{ group: 'apps' }] },
  anyGroupDeployments: { level: 'Request', resources: [{ group: '*', resources: ['deployments'] }] },
  clusterScoped: { level: 'Request', namespaces: [''] },
  kubeSystem: { level: 'Request', namespaces: ['kube-system'] },
  podsNamedBusybox: { level: 'Request', resources: [{ resources: ['pods'], resourceNames: ['busybox'] }] },
  healthzPrefix: { level: 'Request', nonResourceURLs: ['/healthz*'] },
  apiPrefix: { level: 'Request', nonResourceURLs: ['/api*'] },
  logsSlashPrefix: { level: 'Request', nonResourceURLs: ['/logs/*'] },
  versionExact: { level: 'Request', nonResourceURLs: ['/version'] },
  healthzManyStars: { level: 'Request', nonResourceURLs: ['/health**'] },
  anyNonResource: { level: 'Request', nonResourceURLs: ['*'] },
  bobUpperCase: { level: 'Request', users: ['Bob'] },
  bob: { level: 'Request', users: ['bob'] },
  emptyUserName: { level: 'Request', users: [''] },
  anyGroupRule: { level: 'Request', userGroups: ['system:authenticated'] },
  verbGET: { level: 'Request', verbs: ['GET'] },
  literalStarStar: { level: 'Request', resources: [{ resources: ['*/*'] }] },
  podsSubresourceByPrefix: { level: 'Request', resources: [{ resources: ['pods/l*'] }] },
  omitManagedFieldsTrue: { level: 'Request', omitManagedFields: true },
  omitManagedFieldsFalse: { level: 'Request', omitManagedFields: false },
} satisfies Record<string, PolicyRule>;

export type RuleName = keyof typeof rules;

/**
 * Upstream's level table (`testAuditLevel`): [request, expected level, rules in order]. Upstream runs it once
 * with no policy omitStages and once with [RequestReceived, ResponseStarted]; in both runs the decision carries
 * exactly the policy's omitStages, matched or not.
 */
export const levelCases: [RequestName, Level, RuleName[]][] = [
  ['podGet', 'Metadata', ['default']],
  ['podGet', 'None', ['create']],
  ['podGet', 'Metadata', ['tims']],
  ['podGet', 'Metadata', ['humans']],
  ['podGet', 'None', ['serviceAccounts']],
  ['podGet', 'RequestResponse', ['getPods']],
  ['podGet', 'None', ['getClusterRoles']],
  ['podGet', 'None', ['getLogs']],
  ['podGet', 'None', ['getMetrics']],
  ['podGet', 'Metadata', ['getMetrics', 'serviceAccounts', 'default']],
  ['podGet', 'RequestResponse', ['getMetrics', 'getPods', 'default']],
  ['podGet', 'RequestResponse', ['getPodLogs', 'getPods']],

  ['clusterRoleGet', 'Metadata', ['default']],
  ['clusterRoleGet', 'None', ['create']],
  ['clusterRoleGet', 'Metadata', ['tims']],
  ['clusterRoleGet', 'Metadata', ['humans']],
  ['clusterRoleGet', 'None', ['serviceAccounts']],
  ['clusterRoleGet', 'None', ['getPods']],
  ['clusterRoleGet', 'RequestResponse', ['getClusterRoles']],
  ['clusterRoleGet', 'Request', ['clusterRoleEdit', 'getClusterRoles']],
  ['clusterRoleGet', 'None', ['getLogs']],
  ['clusterRoleGet', 'None', ['getMetrics']],
  ['clusterRoleGet', 'Metadata', ['getMetrics', 'serviceAccounts', 'default']],
  ['clusterRoleGet', 'RequestResponse', ['getMetrics', 'getClusterRoles', 'default']],
  ['clusterRoleGet', 'None', ['getPodLogs', 'getPods']],

  ['logsGet', 'Metadata', ['default']],
  ['logsGet', 'None', ['create']],
  ['logsGet', 'Metadata', ['tims']],
  ['logsGet', 'Metadata', ['humans']],
  ['logsGet', 'None', ['serviceAccounts']],
  ['logsGet', 'None', ['getPods']],
  ['logsGet', 'None', ['getClusterRoles']],
  ['logsGet', 'RequestResponse', ['getLogs']],
  ['logsGet', 'None', ['getMetrics']],
  ['logsGet', 'Metadata', ['getMetrics', 'serviceAccounts', 'default']],
  ['logsGet', 'RequestResponse', ['getLogs', 'getClusterRoles', 'default']],
  ['logsGet', 'None', ['getPodLogs', 'getPods']],

  ['podLogGet', 'Request', ['getPodLogs', 'getPods']],
  ['podLogGet', 'Request', ['getAnyResource']],
  ['podLogGet', 'Request', ['getAnyLogSubresource']],
  ['podLogGet', 'Request', ['getAnyPodSubresource']],

  ['anonymousPodGet', 'None', ['tims']],
  ['anonymousPodGet', 'Metadata', ['tims', 'default']],
  ['anonymousPodGet', 'None', ['humans']],
  ['anonymousPodGet', 'Metadata', ['humans', 'default']],
  ['clusterRoleStatusUpdate', 'RequestResponse', ['updateAnyStatusAnyGroup']],
];

export const upstreamPolicyOmitStages: Stage[][] = [[], ['RequestReceived', 'ResponseStarted']];

/** A fully specified case: the policy, the request, and the whole expected decision. */
export interface CheckerCase {
  why: string;
  request: RequestName;
  rules: RuleName[];
  policyOmitStages?: Stage[];
  policyOmitManagedFields?: boolean;
  level: Level;
  omitStages: Stage[];
  /** Index of the matching rule, or null when none matched. */
  rule: number | null;
  /** Checked when given. */
  omitManagedFields?: boolean;
}

export const cases: CheckerCase[] = [
  // Upstream TestChecker / TestCheckerPolicyOmitStages: per-rule omitStages, and their union with the policy's.
  ...(['podGet', 'clusterRoleGet', 'logsGet'] as const).flatMap((request): CheckerCase[] => [
    {
      why: 'rule omitStages are reported',
      request,
      rules: ['omitRequestReceived', 'getPods', 'default'],
      level: 'Request',
      omitStages: ['RequestReceived'],
      rule: 0,
    },
    {
      why: 'rule omitStages are reported',
      request,
      rules: ['onlyPanic', 'getPods', 'default'],
      level: 'Request',
      omitStages: ['RequestReceived', 'ResponseStarted', 'ResponseComplete'],
      rule: 0,
    },
    {
      why: 'policy and rule omitStages are united without duplicates',
      request,
      rules: ['omitRequestReceived', 'getPods', 'default'],
      policyOmitStages: ['RequestReceived', 'ResponseStarted'],
      level: 'Request',
      omitStages: ['RequestReceived', 'ResponseStarted'],
      rule: 0,
    },
    {
      why: 'policy and rule omitStages are united',
      request,
      rules: ['onlyPanic', 'getPods', 'default'],
      policyOmitStages: ['RequestReceived', 'ResponseStarted'],
      level: 'Request',
      omitStages: ['RequestReceived', 'ResponseStarted', 'ResponseComplete'],
      rule: 0,
    },
  ]),
  {
    why: 'the first matching rule wins even when a later one omits more',
    request: 'logsGet',
    rules: ['default', 'omitRequestReceived', 'getPods'],
    policyOmitStages: ['RequestReceived', 'ResponseStarted'],
    level: 'Metadata',
    omitStages: ['RequestReceived', 'ResponseStarted'],
    rule: 0,
  },

  // Upstream TestOmitManagedFields: the rule's value when set, else the policy's.
  ...(
    [
      [false, 'default', false],
      [true, 'default', true],
      [true, 'omitManagedFieldsFalse', false],
      [false, 'omitManagedFieldsTrue', true],
    ] as const
  ).map(
    ([policyValue, rule, want]): CheckerCase => ({
      why: `omitManagedFields: policy ${policyValue}, rule ${rule} → ${want}`,
      request: 'podGet',
      rules: [rule],
      policyOmitManagedFields: policyValue,
      level: rule === 'default' ? 'Metadata' : 'Request',
      omitStages: [],
      rule: 0,
      omitManagedFields: want,
    }),
  ),
  {
    why: 'no match: level None, the policy omitStages and omitManagedFields, rule null',
    request: 'logsGet',
    rules: ['getPods'],
    policyOmitStages: ['Panic', 'RequestReceived'],
    policyOmitManagedFields: true,
    level: 'None',
    omitStages: ['RequestReceived', 'Panic'],
    rule: null,
    omitManagedFields: true,
  },

  // §2.5: first match wins.
  {
    why: 'a catch-all first shadows everything after it',
    request: 'podGet',
    rules: ['default', 'getPods'],
    level: 'Metadata',
    omitStages: [],
    rule: 0,
  },
  {
    why: 'a None rule first silences requests later rules would log',
    request: 'podGet',
    rules: ['none', 'getPods'],
    level: 'None',
    omitStages: [],
    rule: 0,
  },
  // §2.5: level None still reports the merged omitStages (and the rule index).
  {
    why: 'a matched None rule reports the merged omitStages in stage order',
    request: 'podGet',
    rules: ['noneOmitPanic'],
    policyOmitStages: ['ResponseStarted', 'RequestReceived'],
    level: 'None',
    omitStages: ['RequestReceived', 'ResponseStarted', 'Panic'],
    rule: 0,
  },
  // §2.5: resource patterns.
  {
    why: '"pods/*" matches pods itself',
    request: 'podGet',
    rules: ['podsAnySubresource'],
    level: 'Request',
    omitStages: [],
    rule: 0,
  },
  {
    why: '"pods/*" matches pods/log',
    request: 'podLogGet',
    rules: ['podsAnySubresource'],
    level: 'Request',
    omitStages: [],
    rule: 0,
  },
  {
    why: '"pods/*" does not match deployments',
    request: 'deploymentGet',
    rules: ['podsAnySubresource'],
    level: 'None',
    omitStages: [],
    rule: null,
  },
  {
    why: '"*" matches subresources',
    request: 'podLogGet',
    rules: ['anyResource'],
    level: 'Request',
    omitStages: [],
    rule: 0,
  },
  {
    why: '"*" does not cross groups (omitted group is core)',
    request: 'deploymentGet',
    rules: ['anyResource'],
    level: 'None',
    omitStages: [],
    rule: null,
  },
  {
    why: '"*/scale" matches deployments/scale',
    request: 'deploymentScaleUpdate',
    rules: ['anyScale'],
    level: 'Request',
    omitStages: [],
    rule: 0,
  },
  {
    why: '"*/scale" never matches a bare resource',
    request: 'podGet',
    rules: ['anyScale'],
    level: 'None',
    omitStages: [],
    rule: null,
  },
  {
    why: '"pods" does not match pods/log',
    request: 'podLogGet',
    rules: ['getPods'],
    level: 'None',
    omitStages: [],
    rule: null,
  },
  {
    why: 'glob shapes other than */X and R/* are literal',
    request: 'podLogGet',
    rules: ['podsSubresourceByPrefix'],
    level: 'None',
    omitStages: [],
    rule: null,
  },
  {
    why: '"*/*" is literal: matches only resource "*" or subresource "*"',
    request: 'literalStarResource',
    rules: ['literalStarStar'],
    level: 'Request',
    omitStages: [],
    rule: 0,
  },
  {
    why: '"*/*" does not match pods/log',
    request: 'podLogGet',
    rules: ['literalStarStar'],
    level: 'None',
    omitStages: [],
    rule: null,
  },
  // §2.5: groups.
  {
    why: 'an omitted group is core only',
    request: 'deploymentGet',
    rules: ['deploymentsNoGroup'],
    level: 'None',
    omitStages: [],
    rule: null,
  },
  {
    why: 'a group without resources covers its resources',
    request: 'deploymentGet',
    rules: ['appsGroupAllResources'],
    level: 'Request',
    omitStages: [],
    rule: 0,
  },
  {
    why: 'a group without resources covers its subresources',
    request: 'deploymentScaleUpdate',
    rules: ['appsGroupAllResources'],
    level: 'Request',
    omitStages: [],
    rule: 0,
  },
  {
    why: 'a group without resources does not cover other groups',
    request: 'podGet',
    rules: ['appsGroupAllResources'],
    level: 'None',
    omitStages: [],
    rule: null,
  },
  {
    why: 'group "*" matches every group',
    request: 'deploymentGet',
    rules: ['anyGroupDeployments'],
    level: 'Request',
    omitStages: [],
    rule: 0,
  },
  // resourceNames
  {
    why: 'resourceNames match the named object',
    request: 'podGet',
    rules: ['podsNamedBusybox'],
    level: 'Request',
    omitStages: [],
    rule: 0,
  },
  {
    why: 'resourceNames never match a list (no name)',
    request: 'podList',
    rules: ['podsNamedBusybox'],
    level: 'None',
    omitStages: [],
    rule: null,
  },
  // §2.5: namespaces.
  {
    why: 'namespaces [""] matches an all-namespace list',
    request: 'podListAllNamespaces',
    rules: ['clusterScoped'],
    level: 'Request',
    omitStages: [],
    rule: 0,
  },
  {
    why: 'namespaces [""] matches a cluster-scoped resource',
    request: 'clusterRoleGet',
    rules: ['clusterScoped'],
    level: 'Request',
    omitStages: [],
    rule: 0,
  },
  {
    why: 'namespaces [""] does not match a namespaced request',
    request: 'podGet',
    rules: ['clusterScoped'],
    level: 'None',
    omitStages: [],
    rule: null,
  },
  {
    why: 'namespaces [kube-system] matches GET the kube-system namespace',
    request: 'namespaceGet',
    rules: ['kubeSystem'],
    level: 'Request',
    omitStages: [],
    rule: 0,
  },
  {
    why: 'a rule with only namespaces never matches a non-resource request',
    request: 'healthz',
    rules: ['clusterScoped'],
    level: 'None',
    omitStages: [],
    rule: null,
  },
  // §2.5: non-resource URLs.
  {
    why: '"/healthz*" matches /healthz',
    request: 'healthz',
    rules: ['healthzPrefix'],
    level: 'Request',
    omitStages: [],
    rule: 0,
  },
  {
    why: '"/healthz*" has no segment boundary: matches /healthzfoo',
    request: 'healthzfoo',
    rules: ['healthzPrefix'],
    level: 'Request',
    omitStages: [],
    rule: 0,
  },
  {
    why: '"/api*" matches /apis/apps/v1 (discovery)',
    request: 'appsDiscovery',
    rules: ['apiPrefix'],
    level: 'Request',
    omitStages: [],
    rule: 0,
  },
  {
    why: '"/logs/*" does not match /logs',
    request: 'logsRoot',
    rules: ['logsSlashPrefix'],
    level: 'None',
    omitStages: [],
    rule: null,
  },
  {
    why: '"/logs/*" matches /logs/kubelet.log',
    request: 'logsGet',
    rules: ['logsSlashPrefix'],
    level: 'Request',
    omitStages: [],
    rule: 0,
  },
  {
    why: '"/version" does not match /version/',
    request: 'versionSlash',
    rules: ['versionExact'],
    level: 'None',
    omitStages: [],
    rule: null,
  },
  {
    why: '"/version" matches /version',
    request: 'version',
    rules: ['versionExact'],
    level: 'Request',
    omitStages: [],
    rule: 0,
  },
  {
    why: 'path matching is case-sensitive',
    request: 'upperCaseHealthz',
    rules: ['healthzPrefix'],
    level: 'None',
    omitStages: [],
    rule: null,
  },
  {
    why: 'trailing stars are all trimmed: "/health**" is the prefix /health',
    request: 'healthzfoo',
    rules: ['healthzManyStars'],
    level: 'Request',
    omitStages: [],
    rule: 0,
  },
  {
    why: 'nonResourceURLs ["*"] never matches a resource request',
    request: 'podGet',
    rules: ['anyNonResource'],
    level: 'None',
    omitStages: [],
    rule: null,
  },
  {
    why: 'a resource rule never matches a non-resource request',
    request: 'healthz',
    rules: ['anyResource'],
    level: 'None',
    omitStages: [],
    rule: null,
  },
  {
    why: 'a rule with neither resources nor URLs matches non-resource requests',
    request: 'healthz',
    rules: ['default'],
    level: 'Metadata',
    omitStages: [],
    rule: 0,
  },
  // users, groups, verbs
  {
    why: 'users match exactly and case-sensitively',
    request: 'noGroupsUser',
    rules: ['bobUpperCase', 'bob'],
    level: 'Request',
    omitStages: [],
    rule: 1,
  },
  {
    why: 'a user without groups never matches userGroups',
    request: 'noGroupsUser',
    rules: ['anyGroupRule'],
    level: 'None',
    omitStages: [],
    rule: null,
  },
  {
    why: 'a present user with no name is the name ""',
    request: 'emptyUser',
    rules: ['emptyUserName'],
    level: 'Request',
    omitStages: [],
    rule: 0,
  },
  {
    why: 'no user never matches users: [""]',
    request: 'anonymousPodGet',
    rules: ['emptyUserName'],
    level: 'None',
    omitStages: [],
    rule: null,
  },
  {
    why: 'verbs match exactly (GET is not get)',
    request: 'podGet',
    rules: ['verbGET'],
    level: 'None',
    omitStages: [],
    rule: null,
  },
];

/** Upstream TestUnionStages: [policy omitStages, rule omitStages, expected union in stage order]. */
export const unionCases: [Stage[] | undefined, Stage[] | undefined, Stage[]][] = [
  [[], [], []],
  [['RequestReceived'], [], ['RequestReceived']],
  [['RequestReceived'], ['RequestReceived'], ['RequestReceived']],
  [['RequestReceived'], ['ResponseStarted'], ['RequestReceived', 'ResponseStarted']],
  [['RequestReceived', 'RequestReceived'], ['RequestReceived', 'RequestReceived'], ['RequestReceived']],
  [
    ['RequestReceived', 'ResponseStarted'],
    ['Panic', 'RequestReceived'],
    ['RequestReceived', 'ResponseStarted', 'Panic'],
  ],
  [undefined, ['RequestReceived'], ['RequestReceived']],
  [['Panic', 'ResponseComplete'], undefined, ['ResponseComplete', 'Panic']],
];
