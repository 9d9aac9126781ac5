#!/bin/sh
# Regenerates the lockfiles under tests/data/lockfiles with the real tools (needs the npm registry).
# Tools are installed from npm into $TOOLS (default /var/tmp/cg-st-tools):
#   npm install --prefix $TOOLS/yarn_1 yarn@1; ... pnpm@7 pnpm@8 pnpm@9 @yarnpkg/cli-dist@3 @yarnpkg/cli-dist@4
# One project exercises what the formats disagree on: a scoped package, an npm: alias, a tarball URL,
# a git dependency (a local repository at /tmp/cg-lock-gitpkg), a file: dependency.
set -eu
TOOLS=${TOOLS:-/var/tmp/cg-st-tools}
OUT=$(cd "$(dirname "$0")" && pwd)
GIT=/tmp/cg-lock-gitpkg
rm -rf "$GIT" && mkdir -p "$GIT" && cd "$GIT" && git init -q
echo '{"name":"gitpkg","version":"1.0.0"}' > package.json
git add package.json && git -c user.email=t@t -c user.name=t -c commit.gpgsign=false commit -qm init \
  --date=2020-01-01T00:00:00Z
WORK=$(mktemp -d)
project() {  # $1: directory; $2: "git" to include the git dependency
  rm -rf "$1" && mkdir -p "$1/localpkg" && cd "$1"
  echo '{"name":"localpkg","version":"0.1.0"}' > localpkg/package.json
  gitdep=""
  [ "${2:-}" = git ] && gitdep=',"gitpkg":"git+file:///tmp/cg-lock-gitpkg"'
  cat > package.json <<JSON
{"name":"cgproj","version":"1.0.0","private":true,"dependencies":{
 "lodash":"4.17.4","minimist":"0.0.8","@sindresorhus/is":"0.7.0",
 "old-ms":"npm:ms@0.7.1",
 "debug":"https://registry.npmjs.org/debug/-/debug-2.6.8.tgz",
 "localpkg":"file:./localpkg"$gitdep}}
JSON
}
for v in 1 2 3; do
  project "$WORK/npm$v" git
  npm install -q --no-audit --no-fund --package-lock-only --lockfile-version $v >/dev/null
  mkdir -p "$OUT/npm-v$v" && cp package-lock.json package.json "$OUT/npm-v$v/"
done
project "$WORK/yarn1" git
node "$TOOLS/yarn_1/node_modules/yarn/bin/yarn.js" install --registry https://registry.npmjs.org \
  --ignore-scripts --non-interactive --silent >/dev/null
mkdir -p "$OUT/yarn-v1" && cp yarn.lock package.json "$OUT/yarn-v1/"
for b in 3 4; do
  project "$WORK/berry$b"
  printf 'npmRegistryServer: "https://registry.npmjs.org"\nenableTelemetry: false\nnodeLinker: node-modules\n' > .yarnrc.yml
  touch yarn.lock
  YARN_ENABLE_IMMUTABLE_INSTALLS=0 node "$TOOLS/_yarnpkg_cli-dist_$b/node_modules/@yarnpkg/cli-dist/bin/yarn.js" \
    install --mode=update-lockfile >/dev/null
  mkdir -p "$OUT/yarn-berry$b" && cp yarn.lock package.json "$OUT/yarn-berry$b/"
done
for p in 7 8 9; do  # pnpm 6 (lockfile 5.3) fails on Node 20 (ERR_INVALID_THIS)
  g=git; [ "$p" = 8 ] && g=""  # pnpm 8 fails on a git+file: dependency ("invalid relative dependency path")
  project "$WORK/pnpm$p" $g
  node "$TOOLS/pnpm_$p/node_modules/pnpm/bin/pnpm.cjs" install --lockfile-only --ignore-scripts \
    --registry https://registry.npmjs.org >/dev/null
  mkdir -p "$OUT/pnpm$p" && cp pnpm-lock.yaml package.json "$OUT/pnpm$p/"
done
rm -rf "$WORK"
