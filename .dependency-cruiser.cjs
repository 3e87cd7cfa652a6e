// Import rules of the code base (see README "Architecture"). `npm run lint` runs them over src/
// (`npm run lint:imports` alone). Test files (*.test.ts) are left out: nothing imports them, and a
// test importing its package's testing/ helpers is not a layering cycle.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-file-cycle',
      severity: 'error',
      comment: 'No module may reach itself through its imports (type-only imports included).',
      from: {},
      to: { circular: true },
    },
    {
      name: 'no-folder-cycle',
      severity: 'error',
      comment: 'No folder may reach itself through the imports of its files: the layers stay a DAG.',
      scope: 'folder',
      from: {},
      to: { circular: true },
    },
    {
      name: 'machinery-is-a-leaf',
      severity: 'error',
      comment: 'src/machinery is apimachinery: it imports nothing else of ours.',
      from: { path: '^src/machinery/' },
      to: { path: '^src/', pathNot: '^src/machinery/' },
    },
    {
      name: 'localcluster-only-from-cli',
      severity: 'error',
      comment: 'The kube-apiserver stand-in is wired to the rest only by the CLI.',
      from: { path: '^src/', pathNot: '^src/(localcluster|cli)/' },
      to: { path: '^src/localcluster/' },
    },
    {
      name: 'controllers-and-webhooks-are-api-clients',
      severity: 'error',
      comment: 'Controllers and webhooks reach the API over HTTPS like any client, never through server internals.',
      from: { path: '^src/(controllers|webhooks)/' },
      to: { path: '^src/(apiserver|localcluster)/' },
    },
    {
      name: 'product-code-does-not-import-tests',
      severity: 'error',
      comment:
        'Test-only code (testing/ folders, *.test.ts) is excluded from the build, so product code cannot use it.',
      from: { path: '^src/', pathNot: '(^|/)testing/|\\.test\\.ts$' },
      to: { path: '(^|/)testing/|\\.test\\.ts$' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
