// Command perfchart turns the output of the e2e benchmark suite (go test
// -bench, as scripts/bench.sh saves it in docs/bench.txt) into the tables
// of docs/PERFORMANCE.md and the chart docs/perf.svg: continuity, delay and
// bytes against the audience, p2ptvd beside the server baseline.
//
//	go run ./e2e/perfchart -in docs/bench.txt -md docs/PERFORMANCE.md -svg docs/perf.svg
//
// The tables replace whatever sits between the page's
// "<!-- bench:begin -->" and "<!-- bench:end -->" lines; the rest of the
// page is prose and stays as written.
//
// With -history 'docs/history/*.txt' it also lays the kept outputs of past
// runs (one file per design of the chunk path, named N-slug.txt) side by
// side, one row per scenario and design, between "<!-- history:begin -->"
// and "<!-- history:end -->", so the page shows what each change did
// rather than only the latest figures.
package main

import (
	"bufio"
	"bytes"
	"cmp"
	"errors"
	"flag"
	"fmt"
	"html"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

func main() {
	in := flag.String("in", "docs/bench.txt", "benchmark output to read")
	md := flag.String("md", "docs/PERFORMANCE.md", "page whose tables to replace (empty: none)")
	svg := flag.String("svg", "docs/perf.svg", "chart to write (empty: none)")
	history := flag.String("history", "", "past runs to set side by side in the page's history section: comma-separated files or globs, e.g. 'docs/history/*.txt' (with -md only)")
	flag.Parse()
	if err := run(*in, *md, *svg, *history); err != nil {
		fmt.Fprintln(os.Stderr, "perfchart:", err)
		os.Exit(1)
	}
}

func run(in, md, svg, history string) error {
	f, err := os.Open(in)
	if err != nil {
		return err
	}
	defer f.Close()
	res, err := parse(f)
	if err != nil {
		return fmt.Errorf("read %s: %w", in, err)
	}
	if len(res.rows) == 0 {
		return fmt.Errorf("%s holds no benchmark results", in)
	}
	if md != "" {
		page, err := os.ReadFile(md)
		if err != nil {
			return err
		}
		out, err := splice(page, tables(res), benchBegin, benchEnd)
		if err != nil {
			return fmt.Errorf("%s: %w", md, err)
		}
		if history != "" {
			// Both sections are made before the page is written, so a
			// broken history leaves the page as it was.
			files, err := historyFiles(history)
			if err != nil {
				return err
			}
			runs, err := readHistory(files, filepath.Dir(md))
			if err != nil {
				return err
			}
			if out, err = splice(out, historyTable(runs), historyBegin, historyEnd); err != nil {
				return fmt.Errorf("%s: %w", md, err)
			}
		}
		if err := os.WriteFile(md, out, 0o644); err != nil {
			return err
		}
	}
	if svg != "" {
		if err := os.WriteFile(svg, chart(res), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// row is one benchmark's figures, averaged over its runs in the file.
type row struct {
	bench   string // "ChannelSim"
	n       int    // audience, from the "N=…" sub-benchmark name; 0 if none
	metrics map[string]float64
	runs    int
}

func (r row) name() string {
	if r.n == 0 {
		return r.bench
	}
	return fmt.Sprintf("%s/N=%d", r.bench, r.n)
}

// results are the rows in the order they first appear, and the file's
// configuration lines ("cpu: …", "commit: …").
type results struct {
	rows   []*row
	config map[string]string
}

var (
	benchLine  = regexp.MustCompile(`^Benchmark([^\s/]+)(?:/N=(\d+))?(?:-\d+)?\s+\d+\s+(.*)$`)
	configLine = regexp.MustCompile(`^([a-z][a-z0-9-]*):\s+(.*)$`)
	okLine     = regexp.MustCompile(`^ok\s+\S+\s+([0-9.]+)s$`) // go test's last line: the whole run
)

// parse reads benchmark output in the Go benchmark format: result lines and
// "key: value" configuration lines; everything else is ignored.
func parse(r io.Reader) (results, error) {
	res := results{config: map[string]string{}}
	byName := map[string]*row{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if m := configLine.FindStringSubmatch(line); m != nil {
			res.config[m[1]] = m[2]
			continue
		}
		if m := okLine.FindStringSubmatch(line); m != nil {
			res.config["total-s"] = m[1]
			continue
		}
		m := benchLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		n := 0
		if m[2] != "" {
			n, _ = strconv.Atoi(m[2])
		}
		fields := strings.Fields(m[3])
		if len(fields)%2 != 0 {
			return res, fmt.Errorf("odd value/unit pairs in %q", line)
		}
		key := fmt.Sprintf("%s/%d", m[1], n)
		rw := byName[key]
		if rw == nil {
			rw = &row{bench: m[1], n: n, metrics: map[string]float64{}}
			byName[key] = rw
			res.rows = append(res.rows, rw)
		}
		for i := 0; i < len(fields); i += 2 {
			v, err := strconv.ParseFloat(fields[i], 64)
			if err != nil {
				return res, fmt.Errorf("value %q in %q: %w", fields[i], line, err)
			}
			unit := fields[i+1]
			// A running mean, so repeated runs (-count) average out.
			rw.metrics[unit] += (v - rw.metrics[unit]) / float64(rw.runs+1)
		}
		rw.runs++
	}
	return res, sc.Err()
}

// column is a figure in a table.
type column struct {
	unit, title string
	digits      int
}

var (
	qualityColumns = []column{
		{"continuity", "continuity", 3},
		{"startup-p50-ms", "startup p50 ms", 0},
		{"startup-p95-ms", "startup p95 ms", 0},
		{"delay-p50-ms", "delay p50 ms", 0},
		{"delay-p99-ms", "delay p99 ms", 0},
		{"unstarted-viewers", "unstarted", 0},
	}
	costColumns = []column{
		{"in-per-stream-byte", "in ÷ stream", 2},
		{"src-up-per-stream-byte", "source up ÷ stream", 2},
		{"relay-up-per-stream-byte-mean", "relay up mean", 2},
		{"relay-up-per-stream-byte-max", "relay up max", 2},
		{"cpu-ms-per-node-s", "CPU ms/node/s", 1},
		{"heap-MB-per-node", "heap MB/node", 1},
		{"wall-s", "wall s", 0},
	}
)

// cell is a row's figure as the tables print it; "—" when the run did not
// report it.
func cell(r *row, c column) string {
	v, ok := r.metrics[c.unit]
	if !ok {
		return "—"
	}
	return strconv.FormatFloat(v, 'f', c.digits, 64)
}

// tables renders the results as the page's tables.
func tables(res results) []byte {
	var b bytes.Buffer
	var facts []string
	for _, k := range []string{"commit", "date", "go", "cpu", "cores", "goos", "goarch"} {
		if v, ok := res.config[k]; ok {
			facts = append(facts, fmt.Sprintf("%s %s", k, v))
		}
	}
	if len(facts) > 0 {
		fmt.Fprintf(&b, "Run: %s.\n\n", strings.Join(facts, ", "))
	}
	for i, cols := range [][]column{qualityColumns, costColumns} {
		if i > 0 {
			b.WriteString("\n")
		}
		tableHead(&b, []string{"scenario"}, cols)
		for _, r := range res.rows {
			fmt.Fprintf(&b, "| %s |", r.name())
			for _, c := range cols {
				fmt.Fprintf(&b, " %s |", cell(r, c))
			}
			b.WriteString("\n")
		}
	}
	var total float64
	for _, r := range res.rows {
		total += r.metrics["wall-s"]
	}
	fmt.Fprintf(&b, "\nWall time of the scenarios: %.0f s (%.1f min)", total, total/60)
	if t, err := strconv.ParseFloat(res.config["total-s"], 64); err == nil {
		fmt.Fprintf(&b, "; of the whole `go test` run: %.0f s (%.1f min)", t, t/60)
	}
	b.WriteString(".\n")
	return b.Bytes()
}

const (
	benchBegin   = "<!-- bench:begin -->"
	benchEnd     = "<!-- bench:end -->"
	historyBegin = "<!-- history:begin -->"
	historyEnd   = "<!-- history:end -->"
)

// splice puts body between the page's begin and end markers.
func splice(page, body []byte, begin, end string) ([]byte, error) {
	i := bytes.Index(page, []byte(begin))
	j := bytes.Index(page, []byte(end))
	if i < 0 || j < i {
		return nil, errors.New("no " + begin + " … " + end + " section")
	}
	var out bytes.Buffer
	out.Write(page[:i+len(begin)])
	out.WriteString("\n")
	out.Write(body)
	out.Write(page[j:])
	return out.Bytes(), nil
}

// design is a past run of the suite, kept as the figures of the chunk path
// as it was then.
type design struct {
	link  string // the file, relative to the page
	label string
	res   results
}

// historyFiles expands -history: comma-separated files and globs, in the
// order their names give (see historyOrder), each once.
func historyFiles(spec string) ([]string, error) {
	var files []string
	for item := range strings.SplitSeq(spec, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if !strings.ContainsAny(item, `*?[\`) {
			files = append(files, item)
			continue
		}
		m, err := filepath.Glob(item)
		if err != nil {
			return nil, fmt.Errorf("history %q: %w", item, err)
		}
		if len(m) == 0 {
			return nil, fmt.Errorf("history %q matches no file", item)
		}
		files = append(files, m...)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("history %q names no file", spec)
	}
	slices.SortFunc(files, historyOrder)
	return slices.Compact(files), nil
}

// historyOrder sorts by file name, reading a leading number as a number,
// so that 10-x.txt comes after 2-x.txt as the design it records does.
func historyOrder(a, b string) int {
	na, ra := leadingNumber(filepath.Base(a))
	nb, rb := leadingNumber(filepath.Base(b))
	return cmp.Or(cmp.Compare(na, nb), cmp.Compare(ra, rb), cmp.Compare(a, b))
}

// leadingNumber splits "12-slug.txt" into 12 and "-slug.txt"; a name that
// does not start with a digit gives -1 and sorts first.
func leadingNumber(name string) (int, string) {
	end := 0
	for end < len(name) && name[end] >= '0' && name[end] <= '9' {
		end++
	}
	n, err := strconv.Atoi(name[:end])
	if err != nil {
		return -1, name
	}
	return n, name[end:]
}

// readHistory parses the history files; pageDir is the page's directory,
// which the links in its history section are relative to.
func readHistory(files []string, pageDir string) ([]design, error) {
	var ds []design
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("history: %w", err)
		}
		res, err := parse(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", file, err)
		}
		if len(res.rows) == 0 {
			return nil, fmt.Errorf("%s holds no benchmark results", file)
		}
		link := filepath.ToSlash(file)
		if rel, err := filepath.Rel(pageDir, file); err == nil {
			link = filepath.ToSlash(rel)
		}
		ds = append(ds, design{link: link, label: designLabel(file, res.config), res: res})
	}
	return ds, nil
}

// designLabel names a past run: its "design:" line, else its file name
// without the leading "N-" and the extension, then the commit measured.
// Only the commit's first word: the rest is a note for whoever reads the
// file, too long for a table cell.
func designLabel(file string, config map[string]string) string {
	label := strings.TrimSpace(config["design"])
	if label == "" {
		base := filepath.Base(file)
		label = strings.TrimSuffix(base, filepath.Ext(base))
		if n, rest := leadingNumber(label); n >= 0 && strings.HasPrefix(rest, "-") && len(rest) > 1 {
			label = rest[1:]
		}
	}
	if c := strings.Fields(config["commit"]); len(c) > 0 {
		label += " (commit " + c[0] + ")"
	}
	return label
}

// historyUnits are the figures that tell designs apart; the page's own
// tables carry the rest for the latest run.
var historyUnits = []string{
	"continuity", "startup-p50-ms", "delay-p50-ms", "delay-p99-ms",
	"in-per-stream-byte", "src-up-per-stream-byte", "relay-up-per-stream-byte-max",
	"cpu-ms-per-node-s", "heap-MB-per-node",
}

// historyColumns are historyUnits with the titles and digits of the page's
// other tables, so the same figure reads the same in both.
func historyColumns() []column {
	all := slices.Concat(qualityColumns, costColumns)
	var cols []column
	for _, u := range historyUnits {
		if i := slices.IndexFunc(all, func(c column) bool { return c.unit == u }); i >= 0 {
			cols = append(cols, all[i])
		}
	}
	return cols
}

// historyTable renders one table with a row per scenario and design:
// scenarios in the order they first appear, designs in file order, a
// scenario a run did not report left out for that run.
func historyTable(ds []design) []byte {
	var b bytes.Buffer
	var from []string
	for _, d := range ds {
		from = append(from, fmt.Sprintf("[%s](%s)", d.link, d.link))
	}
	fmt.Fprintf(&b, "Read from %s.\n\n", strings.Join(from, ", "))
	cols := historyColumns()
	tableHead(&b, []string{"scenario", "design"}, cols)
	var scenarios []string
	for _, d := range ds {
		for _, r := range d.res.rows {
			if !slices.Contains(scenarios, r.name()) {
				scenarios = append(scenarios, r.name())
			}
		}
	}
	for _, s := range scenarios {
		for _, d := range ds {
			i := slices.IndexFunc(d.res.rows, func(r *row) bool { return r.name() == s })
			if i < 0 {
				continue
			}
			fmt.Fprintf(&b, "| %s | %s |", s, strings.ReplaceAll(d.label, "|", `\|`))
			for _, c := range cols {
				fmt.Fprintf(&b, " %s |", cell(d.res.rows[i], c))
			}
			b.WriteString("\n")
		}
	}
	return b.Bytes()
}

// series is one line of a panel.
type series struct {
	label  string
	color  string
	dashed bool
	pts    [][2]float64 // (N, value)
}

// panel is one plot of the chart.
type panel struct {
	title  string
	logY   bool
	lo, hi float64 // y range; for logY both > 0
	series []series
}

// pick is the (N, metric) points of one benchmark, in N order.
func pick(res results, bench, unit string) [][2]float64 {
	var pts [][2]float64
	for _, r := range res.rows {
		if v, ok := r.metrics[unit]; ok && r.bench == bench && r.n > 0 {
			pts = append(pts, [2]float64{float64(r.n), v})
		}
	}
	slices.SortFunc(pts, func(a, b [2]float64) int { return int(a[0] - b[0]) })
	return pts
}

const (
	colorP2P    = "#c0392b"
	colorChurn  = "#8e44ad"
	colorServer = "#2471a3"
)

// chart draws four panels against the audience N (log scale): continuity,
// delay, bytes in per viewer, and the source's upload.
func chart(res results) []byte {
	ms := func(pts [][2]float64) [][2]float64 {
		out := slices.Clone(pts)
		for i := range out {
			out[i][1] /= 1000
		}
		return out
	}
	both := func(unit string, scale func([][2]float64) [][2]float64) []series {
		if scale == nil {
			scale = func(p [][2]float64) [][2]float64 { return p }
		}
		return []series{
			{label: "p2ptvd", color: colorP2P, pts: scale(pick(res, "ChannelSim", unit))},
			{label: "p2ptvd, churn + 1% loss", color: colorChurn, pts: scale(pick(res, "ChannelSimChurn", unit))},
			{label: "server", color: colorServer, pts: scale(pick(res, "ServerBaseline", unit))},
		}
	}
	delay := []series{
		{label: "p2ptvd p50", color: colorP2P, pts: ms(pick(res, "ChannelSim", "delay-p50-ms"))},
		{label: "p2ptvd p99", color: colorP2P, dashed: true, pts: ms(pick(res, "ChannelSim", "delay-p99-ms"))},
		{label: "churn p50", color: colorChurn, pts: ms(pick(res, "ChannelSimChurn", "delay-p50-ms"))},
		{label: "server p50", color: colorServer, pts: ms(pick(res, "ServerBaseline", "delay-p50-ms"))},
		{label: "server p99", color: colorServer, dashed: true, pts: ms(pick(res, "ServerBaseline", "delay-p99-ms"))},
	}
	panels := []panel{
		{title: "continuity (chunks played on time ÷ due)", lo: 0, hi: 1, series: both("continuity", nil)},
		{title: "delay, source → playout (s)", logY: true, lo: 0.5, hi: 100, series: delay},
		{title: "bytes a viewer receives ÷ stream bytes it played", logY: true, lo: 0.5, hi: 50, series: both("in-per-stream-byte", nil)},
		{title: "source upload ÷ stream", logY: true, lo: 0.5, hi: 500, series: both("src-up-per-stream-byte", nil)},
	}
	var ns []float64 // the audiences drawn
	for _, p := range panels {
		for _, s := range p.series {
			for _, pt := range s.pts {
				if !slices.Contains(ns, pt[0]) {
					ns = append(ns, pt[0])
				}
			}
		}
	}
	slices.Sort(ns)

	const pw, ph, cols = 440, 300, 2
	var b bytes.Buffer
	w, h := pw*cols, ph*((len(panels)+cols-1)/cols)+20
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="11">`+"\n", w, h, w, h)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", w, h)
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle" fill="#555">viewers N (log scale) · %s</text>`+"\n", w/2, h-6, html.EscapeString(res.config["commit"]))
	for i, p := range panels {
		drawPanel(&b, p, ns, float64(i%cols*pw), float64(i/cols*ph), pw, ph)
	}
	b.WriteString("</svg>\n")
	return b.Bytes()
}

func drawPanel(b *bytes.Buffer, p panel, ns []float64, x0, y0, w, h float64) {
	const left, right, top, bottom = 50, 15, 28, 58
	px0, px1 := x0+left, x0+w-right
	py0, py1 := y0+top, y0+h-bottom
	nlo, nhi := 5.0, 500.0
	if len(ns) > 0 {
		nlo, nhi = ns[0]/1.5, ns[len(ns)-1]*1.5
	}
	fx := func(n float64) float64 {
		return px0 + (math.Log(n)-math.Log(nlo))/(math.Log(nhi)-math.Log(nlo))*(px1-px0)
	}
	fy := func(v float64) float64 {
		f := (v - p.lo) / (p.hi - p.lo)
		if p.logY {
			v = math.Max(v, p.lo/2)
			f = (math.Log(v) - math.Log(p.lo)) / (math.Log(p.hi) - math.Log(p.lo))
		}
		return py1 - math.Max(-0.05, math.Min(1.05, f))*(py1-py0)
	}
	fmt.Fprintf(b, `<text x="%.0f" y="%.0f" font-weight="bold">%s</text>`+"\n", px0, y0+16, html.EscapeString(p.title))
	fmt.Fprintf(b, `<rect x="%.0f" y="%.0f" width="%.0f" height="%.0f" fill="none" stroke="#999"/>`+"\n", px0, py0, px1-px0, py1-py0)
	for _, t := range yTicks(p) {
		y := fy(t)
		fmt.Fprintf(b, `<line x1="%.0f" y1="%.1f" x2="%.0f" y2="%.1f" stroke="#eee"/>`, px0, y, px1, y)
		fmt.Fprintf(b, `<text x="%.0f" y="%.1f" text-anchor="end" dy="4">%s</text>`+"\n", px0-4, y, strconv.FormatFloat(t, 'g', 3, 64))
	}
	for _, n := range ns {
		x := fx(n)
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.0f" x2="%.1f" y2="%.0f" stroke="#eee"/>`, x, py0, x, py1)
		fmt.Fprintf(b, `<text x="%.1f" y="%.0f" text-anchor="middle">%g</text>`+"\n", x, py1+14, n)
	}
	lx := px0
	for _, s := range p.series {
		if len(s.pts) == 0 {
			continue
		}
		dash := ""
		if s.dashed {
			dash = ` stroke-dasharray="5,3"`
		}
		var d strings.Builder
		for i, pt := range s.pts {
			cmd := "L"
			if i == 0 {
				cmd = "M"
			}
			fmt.Fprintf(&d, "%s%.1f,%.1f ", cmd, fx(pt[0]), fy(pt[1]))
		}
		fmt.Fprintf(b, `<path d="%s" fill="none" stroke="%s" stroke-width="2"%s/>`+"\n", strings.TrimSpace(d.String()), s.color, dash)
		for _, pt := range s.pts {
			fmt.Fprintf(b, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"><title>%s N=%g: %s</title></circle>`+"\n",
				fx(pt[0]), fy(pt[1]), s.color, html.EscapeString(s.label), pt[0], strconv.FormatFloat(pt[1], 'g', 4, 64))
		}
		// The legend runs along the bottom, under the axis labels.
		ly := py1 + 32
		if lx > px1-90 {
			lx, ly = px0, ly+14
		}
		fmt.Fprintf(b, `<line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" stroke="%s" stroke-width="2"%s/>`, lx, ly-4, lx+16, ly-4, s.color, dash)
		fmt.Fprintf(b, `<text x="%.0f" y="%.0f">%s</text>`+"\n", lx+20, ly, html.EscapeString(s.label))
		lx += 26 + 6*float64(len([]rune(s.label)))
	}
}

// yTicks are round values across a panel's range.
func yTicks(p panel) []float64 {
	var ts []float64
	if p.logY {
		for t := math.Pow(10, math.Ceil(math.Log10(p.lo))); t <= p.hi*1.0001; t *= 10 {
			ts = append(ts, t)
			if t*2 <= p.hi && t*2 >= p.lo {
				ts = append(ts, t*2)
			}
			if t*5 <= p.hi && t*5 >= p.lo {
				ts = append(ts, t*5)
			}
		}
		return ts
	}
	for i := 0; i <= 4; i++ {
		ts = append(ts, p.lo+(p.hi-p.lo)*float64(i)/4)
	}
	return ts
}

// tableHead writes a markdown table's header: the lead columns (text, left
// aligned) and then cols (numbers, right aligned).
func tableHead(b *bytes.Buffer, lead []string, cols []column) {
	b.WriteString("|")
	for _, l := range lead {
		fmt.Fprintf(b, " %s |", l)
	}
	for _, c := range cols {
		fmt.Fprintf(b, " %s |", c.title)
	}
	b.WriteString("\n|")
	b.WriteString(strings.Repeat("---|", len(lead)))
	b.WriteString(strings.Repeat("---:|", len(cols)))
	b.WriteString("\n")
}
