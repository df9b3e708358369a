package render

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stampede-load/stampede/reports"
)

// chromium finds a headless browser: $STAMPEDE_CHROMIUM, else Debian's
// chromium (or Chrome) on the PATH.
func chromium() string {
	if p := os.Getenv("STAMPEDE_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// chartCheck is what the probe script reports of each chart.
type chartCheck struct {
	ID     string   `json:"id"`
	Width  float64  `json:"width"`
	Height float64  `json:"height"`
	Paths  int      `json:"paths"` // drawn shapes inside the chart's SVG
	Texts  int      `json:"texts"`
	Top    float64  `json:"top"` // page coordinates, for the screenshot check
	Left   float64  `json:"left"`
	Labels []string `json:"labels"` // the texts drawn, legend entries among them
	// Bands are the widths, in px, of the translucent areas drawn (fill
	// opacity a quarter: the confidence bands of replications).
	Bands []float64 `json:"bands"`
}

type pageCheck struct {
	Charts []chartCheck `json:"charts"`
	Errors []string     `json:"errors"`
	LoadMs float64      `json:"load_ms"`
}

// probe is appended to a copy of the report (the report itself has no
// script): it records errors, then measures every chart once the page is
// laid out, and leaves the result in the DOM for --dump-dom.
const probe = `<script>
window.__errors = [];
window.addEventListener("error", e => window.__errors.push(String(e.message || e.type)), true);
for (const k of ["error", "warn"]) { const f = console[k]; console[k] = (...a) => { window.__errors.push(k + ": " + a.join(" ")); f.apply(console, a); }; }
const out = {charts: [], errors: window.__errors, load_ms: performance.now()};
for (const f of document.querySelectorAll("figure.chart")) {
  const svg = f.querySelector("svg");
  const r = svg ? svg.getBoundingClientRect() : {width: 0, height: 0, top: 0, left: 0};
  out.charts.push({id: f.dataset.chart, width: r.width, height: r.height, top: r.top + window.scrollY, left: r.left,
    paths: svg ? svg.querySelectorAll("path").length : 0, texts: svg ? svg.querySelectorAll("text").length : 0,
    labels: svg ? [...svg.querySelectorAll("text")].map(t => t.textContent) : [],
    bands: svg ? [...svg.querySelectorAll("path")].filter(p => { const o = parseFloat(getComputedStyle(p).fillOpacity); return getComputedStyle(p).fill !== "none" && o > 0.2 && o < 0.3; }).map(p => p.getBoundingClientRect().width) : []});
}
const pre = document.createElement("pre"); pre.id = "stampede-probe"; pre.textContent = JSON.stringify(out);
document.body.appendChild(pre);
</script>`

// TestHTMLInBrowser opens reports in headless Chromium, checks that
// every chart drew (a real size, shapes inside, no error on the console),
// and takes a screenshot of the page whose chart areas must not be blank:
// the main job's run beside a saturation search, and a replicated
// simulation, whose throughput and latency charts shade confidence bands.
// CI installs chromium and fails when this test skips.
func TestHTMLInBrowser(t *testing.T) {
	bin := chromium()
	if bin == "" {
		t.Skip("no chromium on the PATH (apt-get install chromium, or set STAMPEDE_CHROMIUM)")
	}
	t.Run("main job and a search", func(t *testing.T) {
		// (The saturation search's summary has no time series: its steps
		// are separate runs, so it adds no errors chart.)
		got := checkInBrowser(t, bin, []*Run{loadFixture(t, "launch-day"), loadFixture(t, "saturation")},
			"throughput", "latency", "errors-1", "inflight", "retries", "spectrum", "load-latency-2", "usl-2")
		for _, c := range got {
			if len(c.Bands) > 0 {
				t.Errorf("chart %s shades %d bands: no run here was replicated", c.ID, len(c.Bands))
			}
		}
	})
	t.Run("replicated simulation", func(t *testing.T) {
		got := checkInBrowser(t, bin, []*Run{loadFixture(t, "sim-replicated")}, "throughput", "latency", "inflight", "retries", "spectrum")
		for i, want := range [][]string{
			{"offered: 95% band, 5 replications", "achieved: 95% band, 5 replications", "goodput: 95% band, 5 replications"},
			{"p99: 95% band, 5 replications"},
		} {
			c := got[i]
			for _, w := range want {
				if !slices.Contains(c.Labels, w) {
					t.Errorf("chart %s lacks the legend entry %q: %q", c.ID, w, c.Labels)
				}
			}
			// Each band spans the run, most of the plot's width (its
			// legend thumbnail is the small one).
			wide := 0
			for _, w := range c.Bands {
				if w > c.Width/2 {
					wide++
				}
			}
			if wide != len(want) {
				t.Errorf("chart %s shades %d bands across the run, want %d (widths %.0f of %.0f px)", c.ID, wide, len(want), c.Bands, c.Width)
			}
		}
	})
}

// checkInBrowser renders runs to HTML, opens the page in chromium, checks
// its charts are wantIDs, in order, and each drew, on the page and in a
// screenshot; it returns what the probe measured of each chart.
func checkInBrowser(t *testing.T, bin string, runs []*Run, wantIDs ...string) []chartCheck {
	t.Helper()
	dir := t.TempDir()
	var page bytes.Buffer
	if err := WriteHTML(&page, runs); err != nil {
		t.Fatal(err)
	}
	report := filepath.Join(dir, "report.html")
	if err := os.WriteFile(report, page.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	probed := filepath.Join(dir, "probed.html")
	withProbe := strings.Replace(page.String(), "</body>", probe+"\n</body>", 1)
	if err := os.WriteFile(probed, []byte(withProbe), 0o644); err != nil {
		t.Fatal(err)
	}

	dom, console := runChromium(t, bin, dir, "--dump-dom", "file://"+probed)
	m := regexp.MustCompile(`<pre id="stampede-probe">(.*?)</pre>`).FindStringSubmatch(dom)
	if m == nil {
		t.Fatalf("the probe did not run; chromium printed:\n%s", reports.Clip(console, 2000))
	}
	var got pageCheck
	if err := json.Unmarshal([]byte(htmlUnescape(m[1])), &got); err != nil {
		t.Fatalf("probe output %q: %v", m[1], err)
	}
	t.Logf("page ready after %.0f ms in the browser", got.LoadMs)
	if len(got.Charts) != len(wantIDs) {
		t.Fatalf("%d charts on the page, want %d (%v)", len(got.Charts), len(wantIDs), wantIDs)
	}
	for i, c := range got.Charts {
		if c.ID != wantIDs[i] {
			t.Errorf("chart %d is %q, want %q", i+1, c.ID, wantIDs[i])
		}
		if c.Width < 300 || c.Height < 100 || c.Paths < 10 || c.Texts < 5 {
			t.Errorf("chart %s did not draw: %.0f×%.0f px, %d paths, %d texts", c.ID, c.Width, c.Height, c.Paths, c.Texts)
		}
	}
	if len(got.Errors) > 0 {
		t.Errorf("errors in the page: %q", got.Errors)
	}
	for _, l := range strings.Split(console, "\n") {
		if strings.Contains(l, "CONSOLE") && strings.Contains(l, "report.html") {
			t.Errorf("console: %s", l)
		}
	}

	// The screenshot of the report itself (no probe): tall enough for the
	// whole page, and each chart's area holds drawn pixels.
	shot := filepath.Join(dir, "report.png")
	last := got.Charts[len(got.Charts)-1]
	height := int(last.Top+last.Height) + 100
	_, console = runChromium(t, bin, dir, "--screenshot="+shot, fmt.Sprintf("--window-size=1200,%d", height), "file://"+report)
	f, err := os.Open(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v\n%s", err, reports.Clip(console, 2000))
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if b := img.Bounds(); b.Dx() < 1000 || b.Dy() < height-10 {
		t.Errorf("screenshot is %v, want 1200×%d", b, height)
	}
	for _, c := range got.Charts {
		r := image.Rect(int(c.Left), int(c.Top), int(c.Left+c.Width), int(c.Top+c.Height))
		if share := inkShare(img, r); share < 0.01 {
			t.Errorf("chart %s is blank in the screenshot (%.2f%% of its pixels drawn)", c.ID, 100*share)
		}
	}
	if out := os.Getenv("STAMPEDE_SCREENSHOT"); out != "" {
		out = strings.TrimSuffix(out, ".png") + "-" + filepath.Base(t.Name()) + ".png" // one per page
		b, _ := os.ReadFile(shot)
		if err := os.WriteFile(out, b, 0o644); err != nil {
			t.Error(err)
		}
		t.Logf("screenshot written to %s", out)
	}
	return got.Charts
}

// runChromium runs headless chromium with args and returns its stdout and
// stderr, failing the test when it does not finish within a minute.
func runChromium(t *testing.T, bin, dir string, args ...string) (stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
		"--disable-extensions", "--hide-scrollbars", "--disable-dev-shm-usage", "--user-data-dir=" + filepath.Join(dir, "profile"),
		"--enable-logging=stderr", "--v=0"}
	cmd := exec.CommandContext(ctx, bin, append(base, args...)...)
	cmd.WaitDelay = 5 * time.Second
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", bin, strings.Join(args, " "), err, reports.Clip(errb.String(), 2000))
	}
	return out.String(), errb.String()
}

// inkShare is the share of r's pixels that differ from white.
func inkShare(img image.Image, r image.Rectangle) float64 {
	r = r.Intersect(img.Bounds())
	if r.Empty() {
		return 0
	}
	var ink, all int
	for y := r.Min.Y; y < r.Max.Y; y += 2 {
		for x := r.Min.X; x < r.Max.X; x += 2 {
			cr, cg, cb, _ := img.At(x, y).RGBA()
			if cr < 0xf000 || cg < 0xf000 || cb < 0xf000 {
				ink++
			}
			all++
		}
	}
	return float64(ink) / float64(all)
}

var htmlUnescape = strings.NewReplacer("&quot;", `"`, "&lt;", "<", "&gt;", ">", "&#39;", "'", "&amp;", "&").Replace
