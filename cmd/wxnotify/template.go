package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/wxnotify/wxnotify"
	"github.com/wxnotify/wxnotify/catalog"
	"github.com/wxnotify/wxnotify/queue"
	"github.com/wxnotify/wxnotify/store"
	"github.com/wxnotify/wxnotify/wechat"
)

// cliKey is the key template commands act with: whoever runs the CLI on
// the database may act for every app.
var cliKey = &wxnotify.APIKey{ID: "cli", Name: "wxnotify command line", Apps: []string{wxnotify.AllApps}}

// withTemplates opens the database, builds the catalog over it, and runs f
// with a context that may act for every app.
func (g *globals) withTemplates(ctx context.Context, f func(ctx context.Context, svc *catalog.Service, st store.Driver) error) error {
	st, err := g.openStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	tokens, err := g.tokenService(st)
	if err != nil {
		return err
	}
	svc := &catalog.Service{Store: st, Queue: queue.New(st), Client: wechat.New(wechat.Options{BaseURL: g.wechatURL()}), Tokens: tokens, Logger: g.logger()}
	return f(wxnotify.NewContextWithAPIKey(ctx, cliKey), svc, st)
}

func newTemplateCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "template",
		Short: "Sync, browse, add and delete message templates; name them with aliases",
		Long: "wxnotify mirrors each app's templates from WeChat (subscribe templates and legacy template\n" +
			"message templates) and checks every message against them when it is accepted. These commands work\n" +
			"on the database directly and call WeChat at wechat.base_url (WXNOTIFY_WECHAT_URL, the configuration\n" +
			"file; default the real API).",
	}
	sync := &cobra.Command{
		Use:   "sync [APPID]",
		Short: "Read the templates from WeChat (every app when none is named); vanished ones are marked deleted",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.withTemplates(cmd.Context(), func(ctx context.Context, svc *catalog.Service, st store.Driver) error {
				ids := args
				if len(ids) == 0 {
					apps, err := st.AppList(ctx)
					if err != nil {
						return err
					}
					for _, a := range apps {
						ids = append(ids, a.AppID)
					}
				}
				type result struct {
					AppID   string `json:"appid"`
					Added   int    `json:"added"`
					Removed int    `json:"removed"`
				}
				var out []result
				for _, id := range ids {
					added, removed, err := svc.SyncTemplates(ctx, id)
					if err != nil {
						return err
					}
					out = append(out, result{id, added, removed})
				}
				if g.json {
					return g.printJSON(out)
				}
				for _, r := range out {
					fmt.Fprintf(g.env.Stdout, "%s: %d added, %d removed\n", r.AppID, r.Added, r.Removed)
				}
				return nil
			})
		},
	}
	ls := &cobra.Command{
		Use:   "ls APPID",
		Short: "List the app's templates with their keywords, aliases and truncation policy",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.withTemplates(cmd.Context(), func(ctx context.Context, svc *catalog.Service, _ store.Driver) error {
				list, err := svc.FindTemplates(ctx, args[0])
				if err != nil {
					return err
				}
				if g.json {
					return g.printJSON(list)
				}
				tw := newTable(g.env.Stdout)
				fmt.Fprintln(tw, "TEMPLATE_ID\tKIND\tTITLE\tKEYWORDS\tALIASES\tTRUNCATE\tSTATE")
				for _, t := range list {
					kws := make([]string, len(t.Keywords))
					for i, k := range t.Keywords {
						kws[i] = k.Key + "(" + k.Label + ")"
					}
					state := "live"
					if t.Deleted {
						state = "deleted"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.TemplateID, t.Kind, t.Title, strings.Join(kws, " "),
						orDash(strings.Join(t.Aliases, ",")), orDash(strings.Join(t.TruncateThing, ",")), state)
				}
				return tw.Flush()
			})
		},
	}
	var (
		libKind       string
		libCategories []int
		libOffset     int
		libLimit      int
		libCats       bool
	)
	lib := &cobra.Command{
		Use:   "lib APPID [TID]",
		Short: "Browse WeChat's template library: titles, a title's keywords (with TID), or --categories",
		Args: func(cmd *cobra.Command, args []string) error {
			if err := cobra.RangeArgs(1, 2)(cmd, args); err != nil {
				return usageError{err}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			kind, err := parseKind(libKind)
			if err != nil {
				return err
			}
			return g.withTemplates(cmd.Context(), func(ctx context.Context, svc *catalog.Service, _ store.Driver) error {
				tw := newTable(g.env.Stdout)
				switch {
				case libCats:
					cats, err := svc.FindLibraryCategories(ctx, args[0])
					if err != nil {
						return err
					}
					if g.json {
						return g.printJSON(cats)
					}
					fmt.Fprintln(tw, "CATEGORY\tNAME")
					for _, c := range cats {
						fmt.Fprintf(tw, "%d\t%s\n", c.ID, c.Name)
					}
				case len(args) == 2:
					kws, err := svc.FindLibraryKeywords(ctx, args[0], kind, args[1])
					if err != nil {
						return err
					}
					if g.json {
						return g.printJSON(kws)
					}
					fmt.Fprintln(tw, "KID\tNAME\tRULE\tEXAMPLE")
					for _, k := range kws {
						fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", k.ID, k.Name, orDash(string(k.Rule)), k.Example)
					}
				default:
					page, err := svc.FindLibraryTitles(ctx, args[0], wxnotify.LibraryFilter{Kind: kind, CategoryIDs: libCategories, Offset: libOffset, Limit: libLimit})
					if err != nil {
						return err
					}
					if g.json {
						return g.printJSON(page)
					}
					fmt.Fprintln(tw, "TID\tTITLE\tTYPE\tCATEGORY")
					for _, t := range page.Titles {
						fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.ID, t.Title, typeName(t.Type), orDash(t.CategoryID))
					}
					fmt.Fprintf(tw, "(%d of %d titles from offset %d)\n", len(page.Titles), page.Total, libOffset)
				}
				return tw.Flush()
			})
		},
	}
	lib.Flags().StringVar(&libKind, "kind", "subscribe", "library: subscribe or template (legacy)")
	lib.Flags().IntSliceVar(&libCategories, "category", nil, "subscribe category ids (default: every category of the account)")
	lib.Flags().IntVar(&libOffset, "offset", 0, "first title, from 0")
	lib.Flags().IntVar(&libLimit, "limit", 0, "titles to show (at most 30 subscribe, 20 legacy)")
	lib.Flags().BoolVar(&libCats, "categories", false, "list the account's categories instead")

	var addKind, addScene string
	add := &cobra.Command{
		Use:     "add APPID TID KID...",
		Short:   "Add a library title to the app's templates on WeChat, with the keywords KID in display order",
		Example: "  wxnotify template add wx0123456789abcdef 1001 2 4 --scene 发货时",
		Args: func(cmd *cobra.Command, args []string) error {
			if err := cobra.MinimumNArgs(3)(cmd, args); err != nil {
				return usageError{err}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			kind, err := parseKind(addKind)
			if err != nil {
				return err
			}
			req := &wxnotify.TemplateAdd{Kind: kind, TitleID: args[1], SceneDesc: addScene}
			for _, a := range args[2:] {
				kid, err := strconv.Atoi(a)
				if err != nil {
					return usageError{fmt.Errorf("keyword id %q is not a number", a)}
				}
				req.KeywordIDs = append(req.KeywordIDs, kid)
			}
			return g.withTemplates(cmd.Context(), func(ctx context.Context, svc *catalog.Service, _ store.Driver) error {
				t, err := svc.AddTemplate(ctx, args[0], req)
				if err != nil {
					return err
				}
				if g.json {
					return g.printJSON(t)
				}
				fmt.Fprintf(g.env.Stdout, "template %s added: %s\n", t.TemplateID, t.Title)
				return nil
			})
		},
	}
	add.Flags().StringVar(&addKind, "kind", "subscribe", "subscribe or template (legacy)")
	add.Flags().StringVar(&addScene, "scene", "", "scene description, at most 15 characters (subscribe only)")

	rm := &cobra.Command{
		Use:   "rm APPID TEMPLATE_ID|ALIAS",
		Short: "Delete a template on WeChat; its queued messages fail",
		Args:  exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.withTemplates(cmd.Context(), func(ctx context.Context, svc *catalog.Service, _ store.Driver) error {
				if err := svc.DeleteTemplate(ctx, args[0], args[1]); err != nil {
					return err
				}
				if g.json {
					return g.printJSON(map[string]string{"appid": args[0], "deleted": args[1]})
				}
				fmt.Fprintf(g.env.Stdout, "template %s deleted\n", args[1])
				return nil
			})
		},
	}
	var aliasRm bool
	alias := &cobra.Command{
		Use:   "alias APPID ALIAS [TEMPLATE_ID]",
		Short: "Point ALIAS at a template (usable wherever a template_id is), or remove it with --rm",
		Args: func(cmd *cobra.Command, args []string) error {
			n := 3
			if aliasRm {
				n = 2
			}
			if err := cobra.ExactArgs(n)(cmd, args); err != nil {
				return usageError{err}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.withTemplates(cmd.Context(), func(ctx context.Context, svc *catalog.Service, _ store.Driver) error {
				if aliasRm {
					if err := svc.DeleteAlias(ctx, args[0], args[1]); err != nil {
						return err
					}
					if g.json {
						return g.printJSON(map[string]string{"appid": args[0], "alias": args[1], "removed": "true"})
					}
					fmt.Fprintf(g.env.Stdout, "alias %s removed\n", args[1])
					return nil
				}
				if err := svc.SetAlias(ctx, args[0], args[1], args[2]); err != nil {
					return err
				}
				t, err := svc.ResolveTemplate(ctx, args[0], args[1])
				if err != nil {
					return err
				}
				if g.json {
					return g.printJSON(&wxnotify.TemplateAlias{AppID: args[0], Alias: args[1], TemplateID: t.TemplateID})
				}
				fmt.Fprintf(g.env.Stdout, "alias %s → %s (%s)\n", args[1], t.TemplateID, t.Title)
				return nil
			})
		},
	}
	alias.Flags().BoolVar(&aliasRm, "rm", false, "remove the alias")

	truncate := &cobra.Command{
		Use:   "truncate APPID TEMPLATE_ID|ALIAS [KEY...]",
		Short: "Cut over-long values of these thing keywords to 20 characters instead of refusing them; no KEY turns it off",
		Args: func(cmd *cobra.Command, args []string) error {
			if err := cobra.MinimumNArgs(2)(cmd, args); err != nil {
				return usageError{err}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.withTemplates(cmd.Context(), func(ctx context.Context, svc *catalog.Service, _ store.Driver) error {
				t, err := svc.SetTruncation(ctx, args[0], args[1], args[2:])
				if err != nil {
					return err
				}
				if g.json {
					return g.printJSON(t)
				}
				fmt.Fprintf(g.env.Stdout, "template %s truncates: %s\n", t.TemplateID, orDash(strings.Join(t.TruncateThing, ", ")))
				return nil
			})
		},
	}
	cmd.AddCommand(sync, ls, lib, add, rm, alias, truncate)
	return cmd
}

func typeName(t int) string {
	switch t {
	case wxnotify.TemplateOneTime:
		return "one-time"
	case wxnotify.TemplateLongTerm:
		return "long-term"
	}
	return "-"
}
