// Run by check_rendering.py in each built page once it has loaded: measures
// the laid-out page and writes its findings, as JSON, into a
// <pre id="rendering-report"> that Chromium's --dump-dom prints.
window.addEventListener("load", () => {
  const report = {problems: [], counts: {}};
  const problem = (kind, what) => report.problems.push([kind, what]);
  const visible = (el) => el.offsetParent !== null;
  const article = document.querySelector("article") || document.body;
  let n = 0;
  // Code, not the output an example printed (epoch tables may be wider;
  // they scroll).
  for (const pre of article.querySelectorAll("pre")) {
    if (!visible(pre) || pre.closest(".sphx-glr-script-out")) continue;
    if (pre.id === "rendering-report") continue;
    n += 1;
    if (pre.scrollWidth > pre.clientWidth + 1) {
      const line = pre.textContent.split("\n").sort((a, b) => b.length - a.length)[0];
      problem("code cut off", line.trim().slice(0, 80));
    }
  }
  report.counts.code_blocks = n;
  const maths = article.querySelectorAll("math");
  report.counts.formulas = maths.length;
  for (const m of maths) {
    const box = m.getBoundingClientRect();
    if (box.width < 2 || box.height < 2)
      problem("formula not drawn", m.textContent.slice(0, 60));
  }
  const text = article.innerText;
  for (const tex of text.match(/\\(operatorname|mathcal|frac|mathbb|sim|mid)\b/g) || [])
    problem("raw TeX", tex);
  const primary = document.querySelector(".bd-sidebar-primary");
  if (primary && visible(primary) && !primary.querySelector("nav a, .bd-links a"))
    if (/Section Navigation/.test(primary.innerText))
      problem("empty sidebar", "Section Navigation");
  const tocs = article.querySelectorAll(".contents, nav.contents, .topic.contents");
  if (tocs.length)
    problem("second table of contents", `${tocs.length} in the article`);
  // A name is cut when its text reaches past the sidebar's edge.
  const secondary = document.querySelector(".bd-sidebar-secondary");
  if (secondary && visible(secondary)) {
    const edge = secondary.getBoundingClientRect().right;
    for (const a of secondary.querySelectorAll("a")) {
      if (!visible(a)) continue;
      const text = document.createRange();
      text.selectNodeContents(a);
      if (text.getBoundingClientRect().right > edge + 1)
        problem("sidebar name cut", a.innerText);
    }
  }
  let figures = 0;
  for (const img of article.querySelectorAll("img")) {
    if (!visible(img) || !img.naturalWidth) continue;
    if (img.closest(".sphx-glr-thumbcontainer")) continue;
    figures += 1;
    const shown = img.getBoundingClientRect().width;
    // At three quarters of its size a figure's 10-point text is still about
    // 10 pixels high; a 1000-pixel figure squeezed to 430 is not legible.
    if (shown < 0.75 * img.naturalWidth)
      problem("figure shrunk",
              `${img.src.split("/").pop()}: ${Math.round(shown)} of ${img.naturalWidth} px`);
  }
  report.counts.figures = figures;
  report.thumbnails = [...document.querySelectorAll(".sphx-glr-thumbcontainer")]
    .map((t) => (t.querySelector("a") || {}).href || "");
  const out = document.createElement("pre");
  out.id = "rendering-report";
  out.textContent = JSON.stringify(report);
  document.body.appendChild(out);
});
