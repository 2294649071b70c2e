// ESLint flat config: the front-end code of the dlnotes site (`make lint`).
import js from "@eslint/js";
import globals from "globals";

export default [
  js.configs.recommended,
  {
    files: ["dlnotes/site/static/**/*.js"],
    languageOptions: {
      ecmaVersion: 2020,
      sourceType: "script",
      globals: {...globals.browser},
    },
    rules: {
      "no-var": "off",
      eqeqeq: "error",
      strict: ["error", "function"],
      "no-implicit-globals": "error",
      "no-unused-vars": "error",
    },
  },
];
