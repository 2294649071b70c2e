// MathJax 3 configuration for pymdownx.arithmatex (generic mode).
// MathJax itself is served from the site (assets/vendor/mathjax), never a CDN.
window.MathJax = {
  tex: {
    inlineMath: [["\\(", "\\)"]],
    displayMath: [["\\[", "\\]"]],
    processEscapes: true,
    processEnvironments: true,
  },
  options: {
    ignoreHtmlClass: ".*|",
    processHtmlClass: "arithmatex|jp-RenderedLatex|jp-RenderedMarkdown|jp-MarkdownOutput",
  },
  loader: { paths: { mathjax: new URL("../vendor/mathjax", document.currentScript.src).href } },
};

// Re-typeset after Material's instant navigation swaps the page content.
if (typeof document$ !== "undefined") {
  document$.subscribe(() => {
    if (!window.MathJax || !MathJax.startup || !MathJax.startup.output) return;
    MathJax.startup.output.clearCache();
    MathJax.typesetClear();
    MathJax.texReset();
    MathJax.typesetPromise();
  });
}
