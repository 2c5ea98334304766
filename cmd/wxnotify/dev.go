package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/wxnotify/wxnotify"
	"github.com/wxnotify/wxnotify/apikey"
	"github.com/wxnotify/wxnotify/internal/seal"
	"github.com/wxnotify/wxnotify/store"
	"github.com/wxnotify/wxnotify/token"
	"github.com/wxnotify/wxnotify/wechatsim"
)

// Defaults of `wxnotify dev`.
const (
	// DefaultDevDir holds everything dev keeps between runs: the SQLite
	// database, the generated secret key and operator password, and the demo
	// app's secret and API key (dev.json). Delete it to start over.
	DefaultDevDir = ".wxnotify-dev"
	// DefaultDevSimAddr is where dev's WeChat simulator listens.
	DefaultDevSimAddr = "127.0.0.1:9100"
	// DevAppID is the demo mini program ("wx" and 16 characters).
	DevAppID = "wx0000000000000dev"
	// DevOpenID is the demo user.
	DevOpenID = "oDEV00000000000000000demo001"
	// Credits of the demo user: the acceptances are topped up to this on
	// every start, the form_ids given when the simulator starts empty; in
	// both places, the simulator and the ledger.
	devSubscribeCredits = 5
	devFormIDs          = 3
	// Aliases of the demo templates in the catalog, which the printed curl
	// uses. The templates keep their ids across restarts (the simulator's
	// snapshot); the aliases would follow new ones after a fresh start.
	DevSubscribeAlias = "order_shipped"
	DevLegacyAlias    = "order_status"
)

// Files in the dev directory.
const (
	devDBFile       = "wxnotify.db"
	devKeyFile      = "secret.key"     // WXNOTIFY_SECRET_KEY_FILE when no key is set
	devPasswordFile = "admin-password" // WXNOTIFY_ADMIN_PASSWORD when none is set
	devStateFile    = "dev.json"
	// devSimFile is the simulator's state (wechatsim Save/Load), written
	// every devSimSaveInterval and on stop, so a restarted dev finds on
	// "WeChat's side" the templates, acceptances, form_ids and tokens its
	// database knows.
	devSimFile         = "wechat-sim.json"
	devSimSaveInterval = 2 * time.Second
)

// EnvAdminPassword is the operator password of the dashboard.
const EnvAdminPassword = "WXNOTIFY_ADMIN_PASSWORD"

// devState is what dev remembers of its demo setup (dev.json, mode 0600).
// It holds the demo app's secret and API key in clear: they only work
// against the simulator and this directory's database.
type devState struct {
	AppSecret string `json:"app_secret"`
	APIKey    string `json:"api_key"`
	// OperatorKey acts for every app ("*"): the CLI's, in api.key, so
	// `wxnotify jobs` works too; the printed curl uses APIKey.
	OperatorKey string `json:"operator_key,omitempty"`
}

// devSetup is the demo set up for one run.
type devSetup struct {
	APIKey         string
	SubscribeTplID string
	LegacyTplID    string
	// KeyReused is true when the API key of an earlier run still works.
	KeyReused bool
}

func newDevCommand(g *globals) *cobra.Command {
	var dir, simAddr string
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run everything locally with nothing to set up: the WeChat simulator, wxnotify and a demo app",
		Long: "Run the WeChat simulator and wxnotify in one process, with a SQLite database in --dir, and set up\n" +
			"a demo app, an API key, a subscribe and a legacy template, and a demo user with credits. It prints the\n" +
			"URLs and a curl command that sends the demo user a message, then runs until Ctrl-C.\n\n" +
			"A secret key (and an operator password) are generated into --dir unless WXNOTIFY_SECRET_KEY\n" +
			"(WXNOTIFY_SECRET_KEY_FILE) and WXNOTIFY_ADMIN_PASSWORD are set. Running dev again on the same\n" +
			"directory keeps the database, the API key and the simulator's state (templates, acceptances,\n" +
			"form_ids). --config tunes it like serve; the database is the one in --dir unless --db is given.\n\n" +
			"dev writes its connection details to --dir/" + devConnFile + " (mode 0600): a command run in the\n" +
			"directory that holds ./" + DefaultDevDir + ", or below it, acts on this dev with no variable set;\n" +
			"elsewhere, eval \"$(wxnotify dev env --dir DIR)\". Logs are text unless log.format says otherwise.",
		Example: "  go run ./cmd/wxnotify dev\n  wxnotify dev --addr 127.0.0.1:0 --sim-addr 127.0.0.1:0 --dir /tmp/wx",
		Args:    exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.runDev(cmd, dir, simAddr)
		},
	}
	f := cmd.Flags()
	f.StringVar(&dir, "dir", DefaultDevDir, "directory of the database, generated keys and demo state")
	addSettingFlags(cmd, "addr") // read by loadConfig, as serve's
	f.StringVar(&simAddr, "sim-addr", DefaultDevSimAddr, "listen address of the WeChat simulator (port 0 picks a free one)")
	annotate(cmd, configNoDevConn)
	cmd.AddCommand(newDevEnvCommand(g))
	return cmd
}

func (g *globals) runDev(cmd *cobra.Command, dir, simAddr string) error {
	ctx := cmd.Context()
	dir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create dev directory: %w", err)
	}

	// The environment dev's instance sees: generated secrets where the
	// user set none, and the simulator as WeChat.
	overlay := map[string]string{}
	getenv := func(k string) string {
		if v, ok := overlay[k]; ok {
			return v
		}
		return g.env.Getenv(k)
	}
	if g.env.Getenv(seal.EnvKey) == "" && g.conf().Secrets.KeyFile == "" {
		path := filepath.Join(dir, devKeyFile)
		if _, err := ensureFile(path, seal.GenerateKey); err != nil {
			return err
		}
		overlay[seal.EnvKeyFile] = path
	}
	password, passwordFromEnv := g.env.Getenv(EnvAdminPassword), true
	if password == "" {
		passwordFromEnv = false
		if password, err = ensureFile(filepath.Join(dir, devPasswordFile), func() string { return randomText(12) }); err != nil {
			return err
		}
		overlay[EnvAdminPassword] = password
	}

	ln, err := net.Listen("tcp", simAddr)
	if err != nil {
		return fmt.Errorf("simulator: %w", err)
	}
	simURL := "http://" + ln.Addr().String()
	overlay["WXNOTIFY_WECHAT_URL"] = simURL
	sim := wechatsim.New(wechatsim.Options{})
	simPath := filepath.Join(dir, devSimFile)
	simRestored, err := loadSim(sim, simPath)
	if err != nil {
		return err
	}
	simCtx, stopSim := context.WithCancel(context.WithoutCancel(ctx))
	simDone := make(chan error, 1)
	go func() { simDone <- serveUntilDone(simCtx, ln, sim) }()
	defer func() { stopSim(); <-simDone }()

	dg := *g
	dg.env = &Env{Stdout: g.env.Stdout, Stderr: g.env.Stderr, Getenv: getenv}
	cfg, err := dg.loadConfig(cmd)
	if err != nil {
		return err
	}
	if cfg.Source["log.format"] == "default" {
		cfg.Log.Format = "text" // a person reads dev's log
	}
	if !cmd.Flags().Changed("db") {
		cfg.Database.DSN = "sqlite://" + filepath.Join(dir, devDBFile)
	}
	opts := cfg.instanceOptions()
	// Development: webhook receivers run on this machine.
	opts.WebhookAllowPrivate = true
	opts.WeChatURL = simURL

	st, err := dg.openStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	box, err := dg.box()
	if err != nil {
		return err
	}
	in, err := dg.newInstance(st, opts)
	if err != nil {
		return err
	}
	setup, err := setupDemo(ctx, dir, st, box, sim, in, simRestored)
	if err != nil {
		return err
	}
	log := dg.logger()
	saverCtx, stopSaver := context.WithCancel(context.WithoutCancel(ctx))
	defer stopSaver()
	saverDone := make(chan struct{})
	go func() {
		defer close(saverDone)
		t := time.NewTicker(devSimSaveInterval)
		defer t.Stop()
		for {
			select {
			case <-saverCtx.Done():
				return
			case <-t.C:
				if err := saveSim(sim, simPath); err != nil {
					log.Warn("save the simulator's state", "path", simPath, "err", err)
				}
			}
		}
	}()
	keyFile := ""
	if g.env.Getenv(seal.EnvKey) == "" {
		if keyFile, err = filepath.Abs(dg.conf().Secrets.KeyFile); err != nil {
			return err
		}
	}
	runErr := in.run(ctx, func(apiURL string) {
		conn := devConn{DSN: cfg.Database.DSN, KeyFile: keyFile, WeChatURL: simURL, APIURL: apiURL,
			APIKeyFile: filepath.Join(dir, devKeyName)}
		if err := writeDevConn(dir, conn); err != nil {
			log.Error("write the CLI's connection file; commands in a second terminal will not find this dev", "err", err)
		}
		printDevBanner(g.env.Stdout, devBanner{
			Dir: dir, API: apiURL, Sim: simURL, Setup: setup,
			Password: password, PasswordFromEnv: passwordFromEnv,
			KeyFromEnv: keyFile == "", DefaultDir: filepath.Base(dir) == DefaultDevDir,
		})
	})
	stopSaver()
	<-saverDone
	if err := saveSim(sim, simPath); err != nil {
		log.Error("save the simulator's state; a restart will not find its templates", "path", simPath, "err", err)
	}
	return runErr
}

// loadSim restores the simulator from path, and reports whether there was
// a snapshot there.
func loadSim(sim *wechatsim.Server, path string) (bool, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	defer f.Close()
	if err := sim.Load(f); err != nil {
		return false, fmt.Errorf("%s: %w (delete it, or the whole directory, to start over)", path, err)
	}
	return true, nil
}

// saveSim writes the simulator's state to path (mode 0600: it holds the
// demo app's secret and tokens).
func saveSim(sim *wechatsim.Server, path string) error {
	var b bytes.Buffer
	if err := sim.Save(&b); err != nil {
		return err
	}
	return writeFileAtomic(path, b.Bytes())
}

// setupDemo makes the demo app, key, templates and user exist, in the
// simulator and in the database, where either may hold them from an
// earlier run (simRestored: the simulator was loaded from its snapshot).
// It is idempotent: the app, API key and templates of an earlier run in dir
// are kept.
func setupDemo(ctx context.Context, dir string, st store.Driver, box *seal.Box, sim *wechatsim.Server, in *instance, simRestored bool) (*devSetup, error) {
	statePath := filepath.Join(dir, devStateFile)
	var state devState
	if b, err := os.ReadFile(statePath); err == nil {
		if err := json.Unmarshal(b, &state); err != nil {
			return nil, fmt.Errorf("read %s: %w (delete it to start over)", statePath, err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if state.AppSecret == "" {
		state.AppSecret = randomText(32)
	}

	// The app: in the simulator, and in the registry with the same secret.
	if secret, ok := sim.AppSecret(DevAppID); !ok || secret != state.AppSecret {
		sim.AddApp(wechatsim.App{AppID: DevAppID, Secret: state.AppSecret})
		simRestored = false
	}
	apps := &token.AppService{Store: st, Box: box}
	app := &wxnotify.App{AppID: DevAppID, Name: "wxnotify dev demo", Secret: wxnotify.Secret(state.AppSecret)}
	switch err := apps.CreateApp(ctx, app); {
	case wxnotify.ErrorCode(err) == wxnotify.ECONFLICT:
		secret, err := apps.Secret(ctx, DevAppID)
		if errors.Is(err, seal.ErrWrongKey) {
			return nil, fmt.Errorf("the database in %s was made with another secret key: %w (delete the directory to start over)", dir, err)
		} else if err != nil {
			return nil, fmt.Errorf("read demo app: %w", err)
		}
		if secret.Reveal() != state.AppSecret { // dev.json was lost: take the app over
			if err := apps.DeleteApp(ctx, DevAppID); err != nil {
				return nil, fmt.Errorf("replace demo app: %w", err)
			}
			if err := apps.CreateApp(ctx, app); err != nil {
				return nil, fmt.Errorf("replace demo app: %w", err)
			}
		}
	case err != nil:
		return nil, fmt.Errorf("add demo app: %w", err)
	}

	// The API key: the earlier run's while it still works.
	setup := &devSetup{}
	keys := &apikey.Service{Store: st}
	if state.APIKey != "" {
		if k, err := keys.Authenticate(ctx, state.APIKey); err == nil && k.CanAccess(DevAppID) {
			setup.APIKey, setup.KeyReused = state.APIKey, true
		}
	}
	if setup.APIKey == "" {
		plain, err := keys.CreateAPIKey(ctx, &wxnotify.APIKey{Name: "wxnotify dev", Apps: []string{DevAppID}})
		if err != nil {
			return nil, fmt.Errorf("create API key: %w", err)
		}
		setup.APIKey, state.APIKey = plain, plain
	}
	if k, err := keys.Authenticate(ctx, state.OperatorKey); state.OperatorKey == "" || err != nil || !k.CanAccess(wxnotify.AllApps) {
		plain, err := keys.CreateAPIKey(ctx, &wxnotify.APIKey{Name: "wxnotify dev CLI", Apps: []string{wxnotify.AllApps}})
		if err != nil {
			return nil, fmt.Errorf("create the CLI's API key: %w", err)
		}
		state.OperatorKey = plain
	}
	b, _ := json.MarshalIndent(state, "", "  ")
	if err := writeFileAtomic(statePath, b); err != nil {
		return nil, err
	}
	// The operator's key alone, for the CLI (client.api_key_file).
	if err := writeFileAtomic(filepath.Join(dir, devKeyName), []byte(state.OperatorKey+"\n")); err != nil {
		return nil, err
	}

	// Templates, in the simulator (WeChat's side): those of the last run
	// when it kept them.
	const subscribeTitle, legacyTitle = "订单发货通知", "订单状态通知"
	if setup.SubscribeTplID = sim.FindTemplate(DevAppID, subscribeTitle, false); setup.SubscribeTplID == "" {
		setup.SubscribeTplID = sim.AddTemplateDirect(DevAppID, subscribeTitle,
			wechatsim.Keyword{Key: "character_string1", Name: "订单号", Example: "DEV-1001"},
			wechatsim.Keyword{Key: "thing2", Name: "商品名称", Example: "wxnotify 演示商品"},
			wechatsim.Keyword{Key: "time3", Name: "发货时间", Example: "2026-01-02 15:04"})
	}
	if setup.LegacyTplID = sim.FindTemplate(DevAppID, legacyTitle, true); setup.LegacyTplID == "" {
		setup.LegacyTplID = sim.AddLegacyTemplateDirect(DevAppID, legacyTitle, "订单号", "订单状态")
	}

	// The catalog learns them from WeChat, as it does for a real app; the
	// aliases follow the new ids.
	ctx = wxnotify.NewContextWithAPIKey(ctx, &wxnotify.APIKey{Name: "wxnotify dev", Apps: []string{DevAppID}})
	if _, _, err := in.templates.SyncTemplates(ctx, DevAppID); err != nil {
		return nil, fmt.Errorf("sync demo templates: %w", err)
	}
	for alias, id := range map[string]string{DevSubscribeAlias: setup.SubscribeTplID, DevLegacyAlias: setup.LegacyTplID} {
		if err := in.templates.SetAlias(ctx, DevAppID, alias, id); err != nil {
			return nil, fmt.Errorf("alias demo template: %w", err)
		}
	}

	// The demo user's credits: granted in the simulator as WeChat would on
	// the user's taps, and recorded in the ledger as the page would report.
	topUp := devSubscribeCredits - sim.Grants(DevAppID, DevOpenID, setup.SubscribeTplID)
	sim.GrantSubscribe(DevAppID, DevOpenID, setup.SubscribeTplID, topUp)
	for range max(topUp, 0) {
		err := in.credits.RecordSubscribeResult(ctx, DevAppID, DevOpenID,
			map[string]wxnotify.SubscribeChoice{setup.SubscribeTplID: wxnotify.SubscribeAccept}, "dev")
		if err != nil {
			return nil, fmt.Errorf("grant demo subscribe credits: %w", err)
		}
	}
	if simRestored {
		return setup, nil // the form_ids of the last run are still on both sides
	}
	formIDs := make([]string, devFormIDs)
	for i := range formIDs {
		formIDs[i] = sim.MintFormID(DevAppID, DevOpenID)
	}
	if _, err := in.credits.AddFormIDs(ctx, DevAppID, DevOpenID, wxnotify.CreditFormID, formIDs, "dev"); err != nil {
		return nil, fmt.Errorf("grant demo form_ids: %w", err)
	}
	return setup, nil
}

// devBanner is what dev prints once it serves.
type devBanner struct {
	Dir, API, Sim   string
	Setup           *devSetup
	Password        string
	PasswordFromEnv bool
	// KeyFromEnv: the secret key is WXNOTIFY_SECRET_KEY's, which the CLI
	// needs too; DefaultDir: the CLI finds Dir from its parent.
	KeyFromEnv, DefaultDir bool
}

// devMessage is the body of the printed curl: a subscribe message to the
// demo user, naming the template by its alias, whose data follows the
// template's keyword rules.
func devMessage(now time.Time) string {
	b, _ := json.Marshal(map[string]any{
		"appid":       DevAppID,
		"openid":      DevOpenID,
		"template_id": DevSubscribeAlias,
		"data": map[string]string{
			"character_string1": "DEV-1001",
			"thing2":            "wxnotify 演示商品",
			"time3":             now.Format("2006-01-02 15:04"),
		},
	})
	return string(b)
}

func printDevBanner(w io.Writer, b devBanner) {
	password := b.Password
	if b.PasswordFromEnv {
		password = "(the one in " + EnvAdminPassword + ")"
	}
	cli := fmt.Sprintf("run from %s (or below) with nothing set, e.g. wxnotify app list\n"+
		"                 elsewhere: eval \"$(wxnotify dev env --dir %s)\"", filepath.Dir(b.Dir), b.Dir)
	if !b.DefaultDir {
		cli = fmt.Sprintf("eval \"$(wxnotify dev env --dir %s)\", then e.g. wxnotify app list", b.Dir)
	}
	if b.KeyFromEnv {
		cli += "\n                 (with " + seal.EnvKey + " set as here)"
	}
	key := b.Setup.APIKey
	keyNote := "new"
	if b.Setup.KeyReused {
		keyNote = "kept from the last run"
	}
	fmt.Fprintf(w, `wxnotify dev: the WeChat simulator and wxnotify, with a demo app. Ctrl-C stops both.

  API            %s
  dashboard      %s/dashboard/   operator password: %s
  simulator      %s   inbox: %s/sim/
  demo app       %s
  API key        %s   (%s)
  demo user      %s   (%d subscribe acceptances, %d form_ids)
  templates      %s (subscribe, %s), %s (legacy, %s)
  data           %s   (delete it to start over)
  CLI            %s

Send the demo user a message:

curl -sS -X POST '%s/v1/messages' \
  -H 'Authorization: Bearer %s' \
  -H 'Content-Type: application/json' \
  -d '%s'

It answers {"id":N,...}; then see it delivered with
  curl -sS -H 'Authorization: Bearer %s' '%s/v1/messages/N'
and in the simulator's inbox at %s/sim/

`, b.API, b.API, password, b.Sim, b.Sim, DevAppID, key, keyNote, DevOpenID, devSubscribeCredits, devFormIDs,
		DevSubscribeAlias, b.Setup.SubscribeTplID, DevLegacyAlias, b.Setup.LegacyTplID, b.Dir, cli,
		b.API, key, devMessage(time.Now()), key, b.API, b.Sim)
}

// ensureFile returns the content of path, first writing gen() to it (mode
// 0600) if it does not exist.
func ensureFile(path string, gen func() string) (string, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		return strings.TrimSpace(string(b)), nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	v := gen()
	if err := writeFileAtomic(path, []byte(v+"\n")); err != nil {
		return "", err
	}
	return v, nil
}

// writeFileAtomic writes b to path with mode 0600 through a temporary file.
func writeFileAtomic(path string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// randomText returns n random bytes as lowercase base32.
func randomText(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
}
