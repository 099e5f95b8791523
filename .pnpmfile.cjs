// pnpm hooks for this workspace.
module.exports = {
  hooks: {
    // `pnpm pack` / `pnpm publish` of @agora/client: the packed package.json holds only what a
    // consumer's package manager reads. Its devDependencies (the private server package among
    // them) and its build scripts stay in the repository.
    beforePacking(pkg) {
      if (pkg.name !== "@agora/client") return pkg;
      delete pkg.devDependencies;
      delete pkg.scripts;
      return pkg;
    },
  },
};
