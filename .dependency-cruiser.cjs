/**
 * The layers of lit-stream, checked by dependency-cruiser (`npm run lint:layers`, in .ci/run).
 * Arrows go down only:
 *
 *   daemon → api / rpc → control | fleet → systemd → core
 *
 * with `auth` (access file, tokens, roles) a pure layer beside core that rpc, control and above
 * may use, and `dev` (the embedded systemd) reached only from the daemon (the demo), tests and
 * benchmarks. docs/architecture.md draws the same picture; each rule's comment says why it holds.
 * Type-only imports count (tsPreCompilationDeps): a type is a dependency too.
 *
 * @type {import('dependency-cruiser').IConfiguration}
 */
const OURS = '^(src|gen|clients|test|bench|scripts)/';

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment:
        'A cycle makes two modules one: neither can be read, tested or moved without the other, and ' +
        'ES module cycles can see each other half-initialised. Move what both need down a layer.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'core-is-pure',
      severity: 'error',
      comment:
        'src/core is the vocabulary every layer shares (stream identity, status, errors, the backend ' +
        'seam): it imports nothing of ours outside core, and no generated wire code, so that the ' +
        'model does not change when the wire or an adapter does.',
      from: { path: '^src/core/' },
      to: { path: OURS, pathNot: '^src/core/' },
    },
    {
      name: 'auth-is-pure',
      severity: 'error',
      comment:
        'src/auth (access file, tokens, roles) is a pure lower layer that rpc, control and above use: ' +
        'it may lean on core only, so a policy decision never depends on a transport or an adapter.',
      from: { path: '^src/auth/' },
      to: { path: OURS, pathNot: '^src/(auth|core)/' },
    },
    {
      name: 'systemd-speaks-systemd',
      severity: 'error',
      comment:
        "src/systemd is the D-Bus and journal adapter in systemd's own words: it may use core's " +
        'plain types, never the product above it (control, fleet, api, rpc, daemon) nor generated ' +
        'wire code, so it can be checked against org.freedesktop.systemd1(5) alone.',
      from: { path: '^src/systemd/' },
      to: { path: OURS, pathNot: '^src/(systemd|core)/' },
    },
    {
      name: 'backends-below-the-server',
      severity: 'error',
      comment:
        'control and fleet implement StreamBackend (core/backend.ts) and know nothing of how they ' +
        'are served: the api, the call pipeline and the daemon sit above them and pick them.',
      from: { path: '^src/(control|fleet)/' },
      to: { path: '^src/(daemon|api|rpc|dev)/' },
    },
    {
      name: 'control-and-fleet-apart',
      severity: 'error',
      comment:
        'The local backend and the fan-out backend are siblings behind one seam (StreamBackend): ' +
        'what both need lives in core, so either can change without the other.',
      from: { path: '^src/(control|fleet)/' },
      // $1: the folder the import is from, which it may of course use.
      to: { path: '^src/(control|fleet)/', pathNot: '^src/$1/' },
    },
    {
      name: 'rpc-knows-no-streams',
      severity: 'error',
      comment:
        'src/rpc is the generic call machinery (pipeline, limits, access, transport, health, ' +
        'reflection, metrics): each service tells it what it needs through its MethodSpecs, so it ' +
        "imports no service (api), no backend (control, fleet, systemd), no dev bed and no lit " +
        "wire code (gen/lit); gRPC's own health and reflection code is fine.",
      from: { path: '^src/rpc/' },
      to: { path: '^(src/(api|control|fleet|systemd|dev|daemon)/|gen/lit/)' },
    },
    {
      name: 'api-against-the-backend-seam',
      severity: 'error',
      comment:
        'The StreamService handlers are written against StreamBackend (core/backend.ts), so a second ' +
        'backend (fleet) plugs in without touching them: the daemon chooses the backend, the api ' +
        'never imports one (control, fleet, systemd) nor the dev bed.',
      from: { path: '^src/api/' },
      to: { path: '^src/(daemon|control|fleet|systemd|dev)/' },
    },
    {
      name: 'dev-only-from-daemon-tests-bench',
      severity: 'error',
      comment:
        'src/dev (the embedded systemd) is a dev and test bed, not the production adapter: only the ' +
        'daemon (its demo), the tests and the benchmarks may start one.',
      from: { path: OURS, pathNot: '^(src/(daemon|dev)|test|bench)/' },
      to: { path: '^src/dev/' },
    },
    {
      name: 'daemon-is-the-top',
      severity: 'error',
      comment:
        'src/daemon is the process (cli, config, demo, composition, shutdown): it composes every ' +
        'layer, so nothing in src/ or the clients may import it back.',
      from: { path: '^(src|clients)/', pathNot: '^src/daemon/' },
      to: { path: '^src/daemon/' },
    },
    {
      name: 'server-never-imports-clients',
      severity: 'error',
      comment:
        'The server and the clients are released apart: the server imports nothing of clients/ ' +
        '(shared facts live in clients/testdata, read by tests, or in the proto).',
      from: { path: '^(src|gen)/' },
      to: { path: '^clients/' },
    },
    {
      name: 'client-stands-alone',
      severity: 'error',
      comment:
        'clients/typescript is its own npm package (@lit-stream/client) with its own generated code: ' +
        "it imports nothing of the server's src/ or gen/, which are not in the package.",
      from: { path: '^clients/typescript/src/' },
      to: { path: '^(src|gen)/' },
    },
    {
      name: 'shipped-code-no-dev-dependencies',
      severity: 'error',
      comment:
        'src/ and gen/ ship in the package, which installs dependencies only: a devDependency ' +
        'imported there works in the repository and fails for every user.',
      from: { path: '^(src|gen)/' },
      to: { dependencyTypes: ['npm-dev'], dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      comment: 'An import that resolves to nothing fails at run time; a layer rule cannot judge it either.',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // Type-only imports are dependencies too: a type from a layer above is an upward arrow.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.check.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      mainFields: ['module', 'main', 'types', 'typings'],
    },
    reporterOptions: {
      text: { highlightFocused: true },
    },
  },
};
