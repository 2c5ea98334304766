package main

import (
	"bufio"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/wxnotify/wxnotify"
	"github.com/wxnotify/wxnotify/token"
)

// newAppCallbackCommand is "wxnotify app callback": the app's message push
// (消息推送) settings, so that /wechat/callback/APPID accepts WeChat's pushes.
func newAppCallbackCommand(g *globals) *cobra.Command {
	var mode string
	var remove bool
	cmd := &cobra.Command{
		Use:   "callback APPID",
		Short: "Set the app's push Token and EncodingAESKey (read from stdin, never from a flag)",
		Long: "Configure WeChat message push for an app, as set in the mini program's admin console\n" +
			"(开发管理 → 消息推送): URL https://YOUR-HOST/wechat/callback/APPID, the Token, the EncodingAESKey\n" +
			"and the encryption mode. The Token is the first line of standard input (or WXNOTIFY_CALLBACK_TOKEN),\n" +
			"the EncodingAESKey the second line (or WXNOTIFY_CALLBACK_AES_KEY); leave it out for plain mode.\n" +
			"Both are encrypted with WXNOTIFY_SECRET_KEY before they are stored and are never printed.\n" +
			"The mode defaults to safe when an EncodingAESKey is given and to plain otherwise.",
		Example: "  printf '%s\\n%s\\n' \"$PUSH_TOKEN\" \"$ENCODING_AES_KEY\" | wxnotify app callback wx0123456789abcdef\n" +
			"  wxnotify app callback wx0123456789abcdef --remove",
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			appID := args[0]
			st, err := g.openStore(ctx)
			if err != nil {
				return err
			}
			defer st.Close()
			if remove {
				if err := (&token.AppService{Store: st}).DeleteCallbackConfig(ctx, appID); err != nil {
					return err
				}
				fmt.Fprintf(g.env.Stdout, "push configuration of app %s removed: its pushes are now refused\n", appID)
				return nil
			}
			tok, key := g.env.Getenv("WXNOTIFY_CALLBACK_TOKEN"), g.env.Getenv("WXNOTIFY_CALLBACK_AES_KEY")
			if tok == "" {
				r := bufio.NewReader(cmd.InOrStdin())
				line, err := r.ReadString('\n')
				if err != nil && line == "" {
					return wxnotify.FieldErrorf("token", "no push Token on standard input (or in WXNOTIFY_CALLBACK_TOKEN)")
				}
				tok = strings.TrimSpace(line)
				if key == "" {
					line, _ = r.ReadString('\n')
					key = strings.TrimSpace(line)
				}
			}
			m := wxnotify.CallbackMode(mode)
			if m == "" {
				m = wxnotify.CallbackPlain
				if key != "" {
					m = wxnotify.CallbackSafe
				}
			}
			box, err := g.box()
			if err != nil {
				return err
			}
			c := &wxnotify.CallbackConfig{AppID: appID, Token: wxnotify.Secret(tok), EncodingAESKey: wxnotify.Secret(key), Mode: m}
			if err := (&token.AppService{Store: st, Box: box}).SetCallbackConfig(ctx, c); err != nil {
				return err
			}
			if g.json {
				return g.printJSON(c)
			}
			fmt.Fprintf(g.env.Stdout, "push configured for app %s (mode %s); push URL: https://YOUR-HOST/wechat/callback/%s\n", appID, m, appID)
			return nil
		},
	}
	cmd.Flags().StringVar(&mode, "mode", "", "encryption mode as set in the console: plain, compat or safe (default: safe with an EncodingAESKey, else plain)")
	cmd.Flags().BoolVar(&remove, "remove", false, "remove the app's push configuration")
	return cmd
}
