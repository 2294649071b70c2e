// MathJax 3 configuration for pymdownx.arithmatex (generic mode).
// MathJax itself is served from the site (assets/vendor/mathjax), never a CDN.
window.MathJax = {
  tex: {
    inlineMath: [["\\(", "\\)"]],
    displayMath: [["\\[", "\\]"]],
    processEscapes: true,
    processEnvironments: true,
    // Preloaded instead of autoloaded: an autoload racing with a re-typeset
    // leaves \boldsymbol undefined (rendered red). textmacros makes \_ and
    // friends work inside \text{...} (e.g. \text{fan\_in}).
    packages: { "[+]": ["boldsymbol", "textmacros"] },
  },
  options: {
    ignoreHtmlClass: ".*|",
    processHtmlClass: "arithmatex|jp-RenderedLatex|jp-RenderedMarkdown|jp-MarkdownOutput",
  },
  loader: {
    load: ["[tex]/boldsymbol", "[tex]/textmacros"],
    paths: { mathjax: new URL("../vendor/mathjax", document.currentScript.src).href },
  },
};

// Re-typeset when Material swaps the page content (instant navigation). The first
// emission is the initial page, which MathJax's start-up typesets by itself; later
// ones wait for any typeset in flight (never two typesets at once).
if (typeof document$ !== "undefined") {
  let first = true;
  document$.subscribe(() => {
    if (first) { first = false; return; }
    if (!window.MathJax || !MathJax.startup || !MathJax.startup.promise) return;
    MathJax.startup.promise = MathJax.startup.promise.then(() => {
      MathJax.startup.output.clearCache();
      MathJax.typesetClear();
      MathJax.texReset();
      return MathJax.typesetPromise();
    });
  });
}
