// ESLint (flat config): the recommended rules of ESLint and typescript-eslint, without type
// information so that it stays fast. Run by scripts/test.sh over every package's src, test/,
// bench/, examples/ and connector/scripts/*.js.
import js from "@eslint/js";
import globals from "globals";
import tseslint from "typescript-eslint";

export default tseslint.config(
  {
    ignores: ["**/node_modules/**", "**/dist/**", "bench/results/**"],
  },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    linterOptions: { reportUnusedDisableDirectives: "error" },
    rules: {
      // The packages are CommonJS; `require(...) as T` loads untyped modules (redis-errors,
      // redis-parser), SDK internals and paths known only at run time.
      "@typescript-eslint/no-require-imports": "off",
      // Errors are rewritten into messages that name the setting and the fix; the caught error is
      // left out on purpose, as a `cause` could carry a secret into util.inspect output.
      "preserve-caught-error": "off",
      // Matching control characters is the point where it happens: ANSI colours in redis-cli
      // output, NUL and line breaks in values, Docker's log frame headers.
      "no-control-regex": "off",
      // `{}` as a type parameter's default means "no overrides" (loadConfig, connect).
      "@typescript-eslint/no-empty-object-type": ["error", { allowObjectTypes: "always" }],
      // `const { password: _dropped, ...rest } = x` is how a field is left out of a copy.
      "@typescript-eslint/no-unused-vars": ["error", { ignoreRestSiblings: true }],
    },
  },
  {
    files: ["**/*.js"],
    languageOptions: { sourceType: "commonjs", globals: globals.node },
  },
  {
    files: ["test/**/*.js"],
    languageOptions: { globals: globals.mocha },
  },
);
