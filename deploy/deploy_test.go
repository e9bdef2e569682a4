// Package deploy_test validates the production stack in this directory
// with the tools that can run without a Docker engine: docker-compose
// (the Compose file and the environment it hands the replicas), promtool
// (Prometheus configuration, alert rules and their unit tests), and a real
// server's /metrics (every metric the alerts and the dashboard name must
// exist). No image is built and no container runs here.
//
// A missing tool skips with the reason on a developer's machine and fails
// under CI=true, where .ci/run installs it (Debian packages
// docker-compose and prometheus).
package deploy_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"gopkg.in/yaml.v3"

	"github.com/manacore/mana-core-auth/internal/app"
	"github.com/manacore/mana-core-auth/internal/app/apptest"
)

// tool finds a command-line tool or ends the test: a skip outside CI, a
// failure in CI.
func tool(t *testing.T, name, debianPackage string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	reason := fmt.Sprintf("%s is not installed (Debian package %s)", name, debianPackage)
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true but %s; .ci/run installs it", reason)
	}
	fmt.Fprintf(os.Stderr, "SKIP %s: %s\n", t.Name(), reason)
	t.Skip(reason)
	return ""
}

// dummyEnv is a complete deploy/.env with made-up values.
var dummyEnv = map[string]string{
	"AUTH_HOST":              "auth.example.com",
	"ACME_EMAIL":             "ops@example.com",
	"SECRET_KEY":             strings.Repeat("k", 64),
	"POSTGRES_PASSWORD":      "postgres-password",
	"MANAAUTH_DB_PASSWORD":   "app-password",
	"REDIS_PASSWORD":         "redis-password",
	"SMTP_HOST":              "smtp.example.com",
	"SMTP_USER":              "mailer",
	"SMTP_PASSWORD":          "smtp-password",
	"GRAFANA_ADMIN_PASSWORD": "grafana-password",
}

// compose runs docker-compose on compose.yml with env as its --env-file
// and nothing else from the environment, so a developer's shell cannot
// fill in what .env lacks.
func compose(t *testing.T, env map[string]string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	bin := tool(t, "docker-compose", "docker-compose")
	envFile := filepath.Join(t.TempDir(), "env")
	var b strings.Builder
	for k, v := range env {
		fmt.Fprintf(&b, "%s=%s\n", k, v)
	}
	if err := os.WriteFile(envFile, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(t.Context(), bin, append([]string{"-f", "compose.yml", "--env-file", envFile}, args...)...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	return out.String(), errb.String(), err
}

type composeFile struct {
	Services map[string]struct {
		Image       string            `yaml:"image"`
		Command     []string          `yaml:"command"`
		Environment map[string]string `yaml:"environment"`
		DependsOn   map[string]struct {
			Condition string `yaml:"condition"`
		} `yaml:"depends_on"`
		Networks map[string]any `yaml:"networks"`
		Ports    []any          `yaml:"ports"`
	} `yaml:"services"`
	Networks map[string]struct {
		Internal bool `yaml:"internal"`
		IPAM     struct {
			Config []struct {
				Subnet string `yaml:"subnet"`
			} `yaml:"config"`
		} `yaml:"ipam"`
	} `yaml:"networks"`
}

var replicas = []string{"manaauth-1", "manaauth-2"}

func TestComposeFile(t *testing.T) {
	if _, stderr, err := compose(t, dummyEnv, "config", "-q"); err != nil {
		t.Fatalf("docker-compose config -q: %v\n%s", err, stderr)
	}
	// Every secret is required: without one, compose names it and stops.
	for _, secret := range []string{"SECRET_KEY", "MANAAUTH_DB_PASSWORD", "REDIS_PASSWORD", "POSTGRES_PASSWORD", "ACME_EMAIL", "SMTP_HOST", "GRAFANA_ADMIN_PASSWORD", "AUTH_HOST"} {
		env := maps(dummyEnv)
		delete(env, secret)
		_, stderr, err := compose(t, env, "config", "-q")
		if err == nil || !strings.Contains(stderr, secret) {
			t.Errorf("config without %s: err=%v, stderr does not name it: %s", secret, err, stderr)
		}
	}

	// .env.example lists every variable the file reads.
	composeText, err := os.ReadFile("compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	example, err := os.ReadFile(".env.example")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`\$\{([A-Z0-9_]+)`).FindAllStringSubmatch(string(composeText), -1) {
		if !regexp.MustCompile(`(?m)^#? ?` + m[1] + `=`).Match(example) {
			t.Errorf(".env.example does not mention %s", m[1])
		}
	}

	out, stderr, err := compose(t, dummyEnv, "config")
	if err != nil {
		t.Fatalf("docker-compose config: %v\n%s", err, stderr)
	}
	var cf composeFile
	if err := yaml.Unmarshal([]byte(out), &cf); err != nil {
		t.Fatalf("parse the resolved compose file: %v", err)
	}
	edge := cf.Networks["edge"].IPAM.Config
	if len(edge) != 1 {
		t.Fatalf("edge network has no fixed subnet: %+v", cf.Networks["edge"])
	}
	if !cf.Networks["backend"].Internal {
		t.Error("the backend network (databases) is not internal")
	}

	migrate := cf.Services["migrate"]
	if !slices.Equal(migrate.Command, []string{"migrate"}) {
		t.Errorf("migrate command = %v", migrate.Command)
	}
	if u := migrate.Environment["DATABASE_URL"]; !strings.Contains(u, "@postgres:5432/") || strings.Contains(u, "pgbouncer") {
		t.Errorf("migrate must run on PostgreSQL directly, not through PgBouncer: %s", u)
	}
	for _, name := range replicas {
		s, ok := cf.Services[name]
		if !ok {
			t.Fatalf("no service %s", name)
		}
		if s.Image != migrate.Image {
			t.Errorf("%s runs %s, migrate %s: the schema would not be the one it expects", name, s.Image, migrate.Image)
		}
		if c := s.DependsOn["migrate"].Condition; c != "service_completed_successfully" {
			t.Errorf("%s depends on migrate with %q, want service_completed_successfully", name, c)
		}
		env := s.Environment
		u, err := url.Parse(env["DATABASE_URL"])
		if err != nil || u.Host != "pgbouncer:5432" || u.Query().Get("default_query_exec_mode") != "exec" {
			t.Errorf("%s DATABASE_URL %q: want PgBouncer with default_query_exec_mode=exec", name, env["DATABASE_URL"])
		}
		if env["TRUSTED_PROXIES"] != edge[0].Subnet {
			t.Errorf("%s TRUSTED_PROXIES = %q, want the edge network %s", name, env["TRUSTED_PROXIES"], edge[0].Subnet)
		}
		if len(s.Ports) > 0 {
			t.Errorf("%s publishes ports %v: only Traefik may", name, s.Ports)
		}
		// The environment compose hands the replica is one the production
		// server accepts (durations, URLs, proxies, mail...).
		if _, err := app.LoadConfig(func(k string) string { return env[k] }, app.Serve); err != nil {
			t.Errorf("%s environment refused by the server: %v", name, err)
		}
	}

	// Traefik balances over exactly the replicas, on the port they listen on.
	var dyn struct {
		HTTP struct {
			Routers map[string]struct {
				Rule    string `yaml:"rule"`
				Service string `yaml:"service"`
			} `yaml:"routers"`
			Services map[string]struct {
				LoadBalancer struct {
					Servers []struct {
						URL string `yaml:"url"`
					} `yaml:"servers"`
					HealthCheck struct {
						Path string `yaml:"path"`
					} `yaml:"healthCheck"`
				} `yaml:"loadBalancer"`
			} `yaml:"services"`
		} `yaml:"http"`
	}
	readYAML(t, "traefik/dynamic.yml", &dyn)
	router := dyn.HTTP.Routers["auth"]
	if router.Rule != "Host(`{{ env \"AUTH_HOST\" }}`)" {
		t.Errorf("auth router rule = %q", router.Rule)
	}
	lb := dyn.HTTP.Services[router.Service].LoadBalancer
	var servers []string
	for _, s := range lb.Servers {
		servers = append(servers, s.URL)
	}
	if want := []string{"http://manaauth-1:3001", "http://manaauth-2:3001"}; !slices.Equal(servers, want) {
		t.Errorf("Traefik servers = %v, want %v", servers, want)
	}
	if lb.HealthCheck.Path != "/health/ready" {
		t.Errorf("Traefik health check path = %q", lb.HealthCheck.Path)
	}
	if cf.Services["traefik"].Environment["AUTH_HOST"] != dummyEnv["AUTH_HOST"] {
		t.Error("Traefik does not get AUTH_HOST for its router rule")
	}

	// Prometheus scrapes both replicas on their METRICS_ADDR port.
	var prom struct {
		ScrapeConfigs []struct {
			JobName       string `yaml:"job_name"`
			StaticConfigs []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	readYAML(t, "prometheus/prometheus.yml", &prom)
	_, metricsPort, err := net.SplitHostPort(cf.Services["manaauth-1"].Environment["METRICS_ADDR"])
	if err != nil {
		t.Fatalf("METRICS_ADDR: %v", err)
	}
	var targets []string
	for _, sc := range prom.ScrapeConfigs {
		if sc.JobName == "manaauth" {
			for _, st := range sc.StaticConfigs {
				targets = append(targets, st.Targets...)
			}
		}
	}
	if want := []string{"manaauth-1:" + metricsPort, "manaauth-2:" + metricsPort}; !slices.Equal(targets, want) {
		t.Errorf("Prometheus manaauth targets = %v, want %v", targets, want)
	}

	// The modern Compose CLI, where there is one, accepts the file too.
	if err := exec.Command("docker", "compose", "version").Run(); err == nil {
		cmd := exec.CommandContext(t.Context(), "docker", "compose", "-f", "compose.yml", "config", "-q")
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
		for k, v := range dummyEnv {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("docker compose config -q: %v\n%s", err, out)
		}
	} else {
		t.Log("docker compose (v2 plugin) not available; checked with docker-compose 1.29 only")
	}
}

// loadModern loads compose.yml with compose-go, the loader of the current
// `docker compose` (v2 and later): its schema, interpolation and
// consistency checks. docker-compose 1.29 (TestComposeFile) and it must
// both accept the file.
func loadModern(t *testing.T, env map[string]string) error {
	t.Helper()
	var list []string
	for k, v := range env {
		list = append(list, k+"="+v)
	}
	opts, err := cli.NewProjectOptions([]string{"compose.yml"}, cli.WithName("manaauth"), cli.WithWorkingDirectory("."), cli.WithEnv(list))
	if err != nil {
		return err
	}
	p, err := opts.LoadProject(t.Context())
	if err != nil {
		return err
	}
	for _, name := range append([]string{"traefik", "migrate", "postgres", "pgbouncer", "redis", "prometheus", "grafana", "backup"}, replicas...) {
		if _, err := p.GetService(name); err != nil {
			return fmt.Errorf("service %s: %w", name, err)
		}
	}
	return nil
}

func TestComposeFileModern(t *testing.T) {
	if err := loadModern(t, dummyEnv); err != nil {
		t.Fatalf("compose-go refuses compose.yml: %v", err)
	}
	env := maps(dummyEnv)
	delete(env, "SECRET_KEY")
	if err := loadModern(t, env); err == nil || !strings.Contains(err.Error(), "SECRET_KEY") {
		t.Errorf("without SECRET_KEY: %v", err)
	}
}

func maps(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func promtool(t *testing.T, args ...string) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), tool(t, "promtool", "prometheus"), args...)
	cmd.Dir = "prometheus"
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

type ruleFile struct {
	Groups []struct {
		Rules []struct {
			Alert string `yaml:"alert"`
			Expr  string `yaml:"expr"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

func TestPrometheusConfigAndAlerts(t *testing.T) {
	promtool(t, "check", "config", "prometheus.yml")
	promtool(t, "check", "rules", "alerts.yml")
	promtool(t, "test", "rules", "alerts_test.yml")

	// Each alert is tested both ways: some evaluation expects it to fire,
	// another expects silence.
	var rules ruleFile
	readYAML(t, "prometheus/alerts.yml", &rules)
	var tests struct {
		Tests []struct {
			AlertRuleTest []struct {
				Alertname string `yaml:"alertname"`
				ExpAlerts []any  `yaml:"exp_alerts"`
			} `yaml:"alert_rule_test"`
		} `yaml:"tests"`
	}
	readYAML(t, "prometheus/alerts_test.yml", &tests)
	fires, quiet := map[string]bool{}, map[string]bool{}
	for _, tc := range tests.Tests {
		for _, a := range tc.AlertRuleTest {
			if len(a.ExpAlerts) > 0 {
				fires[a.Alertname] = true
			} else {
				quiet[a.Alertname] = true
			}
		}
	}
	n := 0
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			n++
			if !fires[r.Alert] || !quiet[r.Alert] {
				t.Errorf("alert %s: tested firing %v, tested quiet %v; want both", r.Alert, fires[r.Alert], quiet[r.Alert])
			}
		}
	}
	if n == 0 {
		t.Fatal("no alert rules found")
	}
}

// promqlNames are the words of PromQL that are not metric names.
var promqlNames = map[string]bool{
	"and": true, "or": true, "unless": true, "by": true, "without": true, "on": true, "ignoring": true,
	"group_left": true, "group_right": true, "bool": true, "offset": true, "inf": true, "nan": true,
}

var (
	stringRE     = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
	selectorRE   = regexp.MustCompile(`([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{([^}]*)\}`)
	matcherRE    = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"`)
	groupingRE   = regexp.MustCompile(`\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	bracketsRE   = regexp.MustCompile(`\[[^\]]*\]|\{[^}]*\}`)
	identifierRE = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`)
	literalAltRE = regexp.MustCompile(`^[a-zA-Z0-9_]+(\|[a-zA-Z0-9_]+)*$`)
)

// selector is one use of a metric in an expression, with the label
// matchers it uses.
type selector struct {
	metric   string
	matchers [][3]string // label, operator, value
}

// selectors lists the metrics an expression reads. It is a small
// scanner, not a PromQL parser: label matchers, grouping clauses and
// ranges are removed, and of the remaining identifiers those not followed
// by "(" (functions and aggregations) or a PromQL keyword are metric names.
func selectors(expr string) []selector {
	var out []selector
	seen := map[string]bool{}
	for _, m := range selectorRE.FindAllStringSubmatch(expr, -1) {
		s := selector{metric: m[1]}
		for _, mm := range matcherRE.FindAllStringSubmatch(m[2], -1) {
			s.matchers = append(s.matchers, [3]string{mm[1], mm[2], mm[3]})
		}
		out = append(out, s)
		seen[m[1]] = true
	}
	rest := groupingRE.ReplaceAllString(bracketsRE.ReplaceAllString(stringRE.ReplaceAllString(expr, `""`), " "), " ")
	for _, loc := range identifierRE.FindAllStringIndex(rest, -1) {
		word := rest[loc[0]:loc[1]]
		// A number's exponent (1e3) or a duration's unit is not a name.
		if loc[0] > 0 && strings.ContainsAny(rest[loc[0]-1:loc[0]], "0123456789.") {
			continue
		}
		if promqlNames[strings.ToLower(word)] || strings.HasPrefix(strings.TrimLeft(rest[loc[1]:], " \t\n"), "(") || seen[word] {
			continue
		}
		seen[word] = true
		out = append(out, selector{metric: word})
	}
	return out
}

func TestSelectors(t *testing.T) {
	got := selectors(`histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{job="manaauth",status=~"5.."}[5m]))) > 1
		and min by (cn) (traefik_tls_certs_not_after) - time() < 14 * 86400 or up == 0 and 1e3 > bool x_total offset 5m`)
	var names []string
	for _, s := range got {
		names = append(names, s.metric)
	}
	want := []string{"http_request_duration_seconds_bucket", "traefik_tls_certs_not_after", "up", "x_total"}
	if !slices.Equal(names, want) {
		t.Errorf("selectors = %v, want %v", names, want)
	}
	if m := got[0].matchers; len(m) != 2 || m[1] != [3]string{"status", "=~", "5.."} {
		t.Errorf("matchers = %v", m)
	}
}

// exposition is what /metrics shows: for each sample name, the label
// names and values seen.
type exposition map[string]map[string]map[string]bool

var sampleRE = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s`)

func parseExposition(text string) exposition {
	e := exposition{}
	for _, line := range strings.Split(text, "\n") {
		m := sampleRE.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		labels := e[m[1]]
		if labels == nil {
			labels = map[string]map[string]bool{}
			e[m[1]] = labels
		}
		for _, mm := range matcherRE.FindAllStringSubmatch(m[2], -1) {
			if labels[mm[1]] == nil {
				labels[mm[1]] = map[string]bool{}
			}
			labels[mm[1]][mm[3]] = true
		}
	}
	return e
}

// startServer runs the provider in-process on SQLite with one app
// backend configured (the admin-call metrics are per app) and returns
// its base URL.
func startServer(t *testing.T) string {
	t.Helper()
	env := map[string]string{
		"DATABASE_URL":     "sqlite:" + filepath.Join(t.TempDir(), "m.db"),
		"BASE_URL":         "http://localhost:3001",
		"SECRET_KEY":       strings.Repeat("s", 48),
		"SMTP_HOST":        "127.0.0.1",
		"CHAT_BACKEND_URL": "http://127.0.0.1:9/chat",
		"METRICS_PUBLIC":   "true",
	}
	cfg, err := app.LoadConfig(func(k string) string { return env[k] }, app.Serve)
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.New(t.Context(), cfg, app.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return apptest.Serve(t, a)
}

func get(t *testing.T, u string) string {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", u, resp.Status)
	}
	return string(b)
}

// expression is one PromQL expression and where it is used.
type expression struct{ where, expr string }

func dashboardExpressions(t *testing.T) []expression {
	t.Helper()
	b, err := os.ReadFile("grafana/dashboards/manaauth.json")
	if err != nil {
		t.Fatal(err)
	}
	type target struct {
		Expr       string `json:"expr"`
		Datasource struct {
			UID string `json:"uid"`
		} `json:"datasource"`
	}
	type panel struct {
		Title   string   `json:"title"`
		Type    string   `json:"type"`
		Targets []target `json:"targets"`
		Panels  []panel  `json:"panels"`
	}
	var dash struct {
		UID        string  `json:"uid"`
		Title      string  `json:"title"`
		Panels     []panel `json:"panels"`
		Templating struct {
			List []struct {
				Name       string `json:"name"`
				Definition string `json:"definition"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("dashboard JSON: %v", err)
	}
	if dash.UID == "" || dash.Title == "" {
		t.Error("dashboard without uid or title")
	}
	var ds struct {
		Datasources []struct {
			UID string `yaml:"uid"`
		} `yaml:"datasources"`
	}
	readYAML(t, "grafana/provisioning/datasources/prometheus.yml", &ds)
	if len(ds.Datasources) != 1 {
		t.Fatalf("want one provisioned data source, got %d", len(ds.Datasources))
	}
	var out []expression
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			if p.Type != "row" && len(p.Targets) == 0 {
				t.Errorf("panel %q has no query", p.Title)
			}
			for _, tg := range p.Targets {
				if tg.Datasource.UID != ds.Datasources[0].UID {
					t.Errorf("panel %q queries data source %q, provisioned is %q", p.Title, tg.Datasource.UID, ds.Datasources[0].UID)
				}
				if strings.TrimSpace(tg.Expr) == "" {
					t.Errorf("panel %q has an empty query", p.Title)
				}
				out = append(out, expression{"dashboard panel " + p.Title, tg.Expr})
			}
			walk(p.Panels)
		}
	}
	walk(dash.Panels)
	// label_values(SELECTOR, label) names its metric like a selector.
	lv := regexp.MustCompile(`^label_values\((.*),\s*[a-zA-Z_]+\)$`)
	for _, v := range dash.Templating.List {
		m := lv.FindStringSubmatch(v.Definition)
		if m == nil {
			t.Errorf("variable %s: unexpected query %q", v.Name, v.Definition)
			continue
		}
		out = append(out, expression{"dashboard variable " + v.Name, m[1]})
	}
	return out
}

// TestMetricNamesExist: every metric an alert or a dashboard panel reads
// is on /metrics of a running server, with the labels the expression
// matches on, and every literal label value it selects (result="error",
// state="in_use") is one the server exports. Names from Traefik
// (traefik_*) and Prometheus (up) are not the server's. Histograms are
// read as NAME_bucket.
func TestMetricNamesExist(t *testing.T) {
	var exprs []expression
	var rules ruleFile
	readYAML(t, "prometheus/alerts.yml", &rules)
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			exprs = append(exprs, expression{"alert " + r.Alert, r.Expr})
		}
	}
	exprs = append(exprs, dashboardExpressions(t)...)

	base := startServer(t)
	get(t, base+"/health") // one request, so the HTTP histogram has a series
	scraped := parseExposition(get(t, base+"/metrics"))

	checked := map[string]bool{}
	for _, e := range exprs {
		sels := selectors(e.expr)
		if len(sels) == 0 {
			t.Errorf("%s: no metric found in %q", e.where, e.expr)
		}
		for _, s := range sels {
			if s.metric == "up" || strings.HasPrefix(s.metric, "traefik_") {
				continue
			}
			labels, ok := scraped[s.metric]
			if !ok {
				t.Errorf("%s reads %s, which /metrics does not have", e.where, s.metric)
				continue
			}
			checked[s.metric] = true
			for _, m := range s.matchers {
				label, op, value := m[0], m[1], m[2]
				if label == "job" || label == "instance" {
					continue // added by Prometheus at scrape time
				}
				values, ok := labels[label]
				if !ok {
					t.Errorf("%s matches %s on label %q, which it does not have", e.where, s.metric, label)
					continue
				}
				if (op == "=" || op == "=~") && literalAltRE.MatchString(value) {
					for _, v := range strings.Split(value, "|") {
						if !values[v] {
							t.Errorf("%s selects %s{%s=%q}: /metrics has no such value (has %v)", e.where, s.metric, label, v, keys(values))
						}
					}
				}
			}
		}
	}
	if len(checked) < 10 {
		t.Errorf("only %d metrics checked: the scanner is broken? %v", len(checked), keys(checked))
	}
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
