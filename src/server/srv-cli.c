/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The subcommands of cpns-server: init, serve and the admin commands. */
#define G_LOG_DOMAIN "cpns-server"

#include "config.h"

#include <locale.h>
#include <stdio.h>
#include <string.h>

#include <glib-unix.h>
#include <json-glib/json-glib.h>

#include "cpns-crypto.h"
#include "cpns-error.h"
#include "cpns-ids.h"
#include "srv-cli.h"
#include "srv-datadir.h"
#include "srv-enrollment.h"
#include "srv-server.h"
#include "srv-store.h"
#include "srv-time.h"

typedef struct
{
  char     *data_dir;
  gboolean  json;
} CommonOptions;

static void
common_clear (CommonOptions *common)
{
  g_free (common->data_dir);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (CommonOptions, common_clear)

static int
fail (const char   *command,
      const GError *error)
{
  g_printerr ("cpns-server %s: %s\n", command, error->message);
  return 1;
}

static int
usage_error (GOptionContext *context,
             const char     *command,
             const char     *message)
{
  g_autofree char *help = g_option_context_get_help (context, TRUE, NULL);

  g_printerr ("cpns-server %s: %s\n\n%s", command, message, help);
  return 2;
}

static void
print_json (JsonNode *node)
{
  g_autofree char *text = json_to_string (node, TRUE);

  printf ("%s\n", text);
  fflush (stdout);
}

static void
print_json_object (JsonObject *object)
{
  g_autoptr(JsonNode) node = json_node_init_object (json_node_alloc (), object);

  print_json (node);
}

/* Parses @argv with @entries plus --data-dir / --json (when @with_json).
 * Leaves positional arguments in argv. */
static gboolean
parse (const char      *command,
       const char      *parameters,
       const char      *summary,
       GOptionEntry    *entries,
       gboolean         with_json,
       CommonOptions   *common,
       int             *argc,
       char          ***argv,
       GOptionContext **out_context,
       int             *out_status)
{
  g_autoptr(GOptionContext) context = g_option_context_new (parameters);
  g_autoptr(GError) error = NULL;
  GOptionEntry common_entries[] = {
    { "data-dir", 'd', 0, G_OPTION_ARG_FILENAME, &common->data_dir,
      "The server's data directory (default: ~/.local/share/cpns-server)", "DIR" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &common->json, "Print JSON for scripts", NULL },
    { NULL }
  };
  g_autofree char *prgname = g_strdup_printf ("cpns-server %s", command);

  if (!with_json)
    common_entries[1].long_name = NULL;
  g_set_prgname (prgname);
  g_option_context_set_summary (context, summary);
  g_option_context_add_main_entries (context, common_entries, NULL);
  if (entries)
    g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, argc, argv, &error))
    {
      g_printerr ("cpns-server %s: %s\n", command, error->message);
      *out_status = 2;
      return FALSE;
    }
  if (common->data_dir == NULL)
    common->data_dir = srv_datadir_default ();
  *out_context = g_steal_pointer (&context);
  return TRUE;
}

static SrvStore *
open_store (const char  *data_dir,
            GError     **error)
{
  g_autofree char *db_path = srv_datadir_db_path (data_dir);

  if (!g_file_test (db_path, G_FILE_TEST_EXISTS))
    {
      g_set_error (error, CPNS_ERROR, CPNS_ERROR_NOT_FOUND,
                   "no server database in %s; create it with `cpns-server init --data-dir %s`",
                   data_dir, data_dir);
      return NULL;
    }
  return srv_store_open (db_path, error);
}

/* ------------------------------------------------------------------ */
/* init */

static int
cmd_init (int argc, char **argv)
{
  g_auto(CommonOptions) common = { 0 };
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *hostname = NULL;
  g_autofree char *url = NULL;
  g_autofree char *pin = NULL;
  gboolean force = FALSE;
  int status = 0;
  GOptionEntry entries[] = {
    { "hostname", 0, 0, G_OPTION_ARG_STRING, &hostname,
      "Name the certificate is made for (default: localhost)", "NAME" },
    { "url", 0, 0, G_OPTION_ARG_STRING, &url,
      "URL invitations will name (default: https://NAME:7443)", "URL" },
    { "force", 0, 0, G_OPTION_ARG_NONE, &force,
      "Replace an existing certificate and key (the database is kept)", NULL },
    { NULL }
  };

  if (!parse ("init", NULL,
              "Create the server's data directory: database, self-signed certificate and key.\n"
              "Prints the certificate pin (sha256:…) that invitations carry.",
              entries, TRUE, &common, &argc, &argv, &context, &status))
    return status;
  if (argc > 1)
    return usage_error (context, "init", "unexpected argument");
  if (hostname == NULL)
    hostname = g_strdup ("localhost");
  if (url == NULL)
    url = g_strdup_printf ("https://%s:7443", hostname);
  if (!g_str_has_prefix (url, "https://"))
    return usage_error (context, "init", "--url must be an https:// URL");

  if (!srv_datadir_init (common.data_dir, hostname, url, force, &error))
    return fail ("init", error);
  pin = srv_datadir_dup_pin (common.data_dir, &error);
  if (pin == NULL)
    return fail ("init", error);

  if (common.json)
    {
      g_autoptr(JsonObject) object = json_object_new ();
      g_autofree char *pin_text = g_strconcat ("sha256:", pin, NULL);

      json_object_set_string_member (object, "data_dir", common.data_dir);
      json_object_set_string_member (object, "url", url);
      json_object_set_string_member (object, "hostname", hostname);
      json_object_set_string_member (object, "pin", pin_text);
      print_json_object (object);
    }
  else
    {
      printf ("Created a CPNS server in %s\n", common.data_dir);
      printf ("URL: %s\n", url);
      printf ("pin: sha256:%s\n", pin);
      printf ("Next: cpns-server user add NAME --data-dir %s, then cpns-server serve --data-dir %s\n",
              common.data_dir, common.data_dir);
    }
  return 0;
}

/* ------------------------------------------------------------------ */
/* serve */

static gboolean
quit_cb (gpointer user_data)
{
  g_main_loop_quit (user_data);
  return G_SOURCE_REMOVE;
}

static int
cmd_serve (int argc, char **argv)
{
  g_auto(CommonOptions) common = { 0 };
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(SrvServer) server = NULL;
  g_autoptr(GMainLoop) loop = NULL;
  g_autofree char *listen = NULL;
  g_autofree char *url = NULL;
  int status = 0;
  GOptionEntry entries[] = {
    { "listen", 'l', 0, G_OPTION_ARG_STRING, &listen,
      "Address and port to listen on (default 127.0.0.1:7443; port 0 picks a free one)",
      "ADDR:PORT" },
    { NULL }
  };

  if (!parse ("serve", NULL,
              "Run the CPNS server (HTTPS API of PROTOCOL.md §5). Prints one line\n"
              "\"cpns-server: listening url=https://ADDR:PORT port=PORT\" once it accepts connections.",
              entries, FALSE, &common, &argc, &argv, &context, &status))
    return status;
  if (argc > 1)
    return usage_error (context, "serve", "unexpected argument");

  server = srv_server_new (common.data_dir, &error);
  if (server == NULL)
    return fail ("serve", error);
  if (!srv_server_listen (server, listen ? listen : "127.0.0.1:7443", &error))
    return fail ("serve", error);

  url = srv_server_dup_url (server);
  printf ("cpns-server: listening url=%s port=%u\n", url, srv_server_get_port (server));
  fflush (stdout);

  loop = g_main_loop_new (NULL, FALSE);
  g_unix_signal_add (SIGINT, quit_cb, loop);
  g_unix_signal_add (SIGTERM, quit_cb, loop);
  g_main_loop_run (loop);
  g_debug ("shutting down");
  return 0;
}

/* ------------------------------------------------------------------ */
/* user add / user list */

static int
cmd_user_add (int argc, char **argv)
{
  g_auto(CommonOptions) common = { 0 };
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(SrvStore) store = NULL;
  g_autoptr(SrvUser) user = NULL;
  g_autofree char *server_url = NULL;
  g_autofree char *pin = NULL;
  g_autofree char *code_hash = NULL;
  char *code = NULL;
  char *invitation = NULL;
  gboolean created = FALSE;
  gint64 now = srv_now ();
  gint64 expires_at = now + srv_timings_get ()->enrollment_ttl;
  int status = 0;
  GOptionEntry entries[] = {
    { "server-url", 0, 0, G_OPTION_ARG_STRING, &server_url,
      "URL the invitation names (default: the one given to init)", "URL" },
    { NULL }
  };

  if (!parse ("user add", "NAME",
              "Create a user (or give an existing one a new code) and print a one-time\n"
              "enrollment code and the cpns://enroll invitation for their gateway.\n"
              "The code is valid for 24 hours and can be used once.",
              entries, TRUE, &common, &argc, &argv, &context, &status))
    return status;
  if (argc != 2)
    return usage_error (context, "user add", "expected one NAME");
  if (!cpns_user_id_is_valid (argv[1]))
    return usage_error (context, "user add", "NAME must be 1–64 characters of a-z 0-9 . _ -");

  store = open_store (common.data_dir, &error);
  if (store == NULL)
    return fail ("user add", error);
  if (server_url == NULL)
    server_url = srv_datadir_dup_url (common.data_dir);
  if (server_url == NULL)
    server_url = g_strdup ("https://localhost:7443");
  pin = srv_datadir_dup_pin (common.data_dir, NULL);

  code = srv_enrollment_code_new ();
  code_hash = srv_enrollment_code_hash (code);
  if (!srv_store_add_user_code (store, argv[1], code_hash, now, expires_at, &created, &error) ||
      (user = srv_store_get_user (store, argv[1], &error)) == NULL)
    {
      cpns_free_secret_string (code);
      return fail ("user add", error);
    }
  invitation = srv_enrollment_invitation (server_url, argv[1], code, pin);

  /* The operator asked for the code: printing it here is its purpose. */
  if (common.json)
    {
      g_autoptr(JsonObject) object = json_object_new ();

      json_object_set_string_member (object, "user_id", user->user_id);
      json_object_set_string_member (object, "pn_id", user->pn_id);
      json_object_set_boolean_member (object, "created", created);
      json_object_set_string_member (object, "enrollment_code", code);
      {
        g_autofree char *expiry = srv_time_format (expires_at);
        json_object_set_string_member (object, "expires_at", expiry);
      }
      json_object_set_string_member (object, "invitation", invitation);
      if (pin)
        {
          g_autofree char *pin_text = g_strconcat ("sha256:", pin, NULL);
          json_object_set_string_member (object, "pin", pin_text);
        }
      print_json_object (object);
    }
  else
    {
      g_autofree char *expiry = srv_time_format (expires_at);

      printf ("%s user %s (PN %s)\n", created ? "Created" : "New code for", user->user_id, user->pn_id);
      printf ("Enrollment code: %s (single use, expires %s)\n", code, expiry);
      printf ("Invitation: %s\n", invitation);
    }
  cpns_free_secret_string (code);
  cpns_free_secret_string (invitation);
  return 0;
}

static int
cmd_user_list (int argc, char **argv)
{
  g_auto(CommonOptions) common = { 0 };
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(SrvStore) store = NULL;
  g_autoptr(GPtrArray) users = NULL;
  int status = 0;

  if (!parse ("user list", NULL, "List the users, their PN and how many gateways and entities they have.",
              NULL, TRUE, &common, &argc, &argv, &context, &status))
    return status;
  if (argc > 1)
    return usage_error (context, "user list", "unexpected argument");
  store = open_store (common.data_dir, &error);
  if (store == NULL || (users = srv_store_list_users (store, &error)) == NULL)
    return fail ("user list", error);

  if (common.json)
    {
      g_autoptr(JsonArray) array = json_array_new ();
      g_autoptr(JsonNode) node = NULL;

      for (guint i = 0; i < users->len; i++)
        {
          SrvUser *user = g_ptr_array_index (users, i);
          JsonObject *object = json_object_new ();

          json_object_set_string_member (object, "user_id", user->user_id);
          json_object_set_string_member (object, "pn_id", user->pn_id);
          json_object_set_string_member (object, "default_action", user->default_action);
          json_object_set_int_member (object, "revision", user->revision);
          json_object_set_int_member (object, "gateways", user->n_gateways);
          json_object_set_int_member (object, "entities", user->n_entities);
          json_array_add_object_element (array, object);
        }
      node = json_node_init_array (json_node_alloc (), array);
      print_json (node);
    }
  else
    {
      if (users->len == 0)
        printf ("No users yet. Add one with: cpns-server user add NAME\n");
      for (guint i = 0; i < users->len; i++)
        {
          SrvUser *user = g_ptr_array_index (users, i);

          printf ("%-20s %s  gateways: %u  entities: %u  default: %s\n", user->user_id,
                  user->pn_id, user->n_gateways, user->n_entities, user->default_action);
        }
    }
  return 0;
}

/* ------------------------------------------------------------------ */
/* inventory */

JsonObject *srv_inventory_entity_to_json (SrvEntity *entity);

static int
cmd_inventory (int argc, char **argv)
{
  g_auto(CommonOptions) common = { 0 };
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(SrvStore) store = NULL;
  g_autoptr(GPtrArray) entities = NULL;
  g_autoptr(SrvUser) user = NULL;
  gint64 revision = 0;
  int status = 0;

  if (!parse ("inventory", "USER", "Show the PN inventory of USER.",
              NULL, TRUE, &common, &argc, &argv, &context, &status))
    return status;
  if (argc != 2)
    return usage_error (context, "inventory", "expected one USER");
  store = open_store (common.data_dir, &error);
  if (store == NULL || (user = srv_store_get_user (store, argv[1], &error)) == NULL ||
      (entities = srv_store_list_entities (store, argv[1], 0, &revision, &error)) == NULL)
    return fail ("inventory", error);

  if (common.json)
    {
      g_autoptr(JsonObject) object = json_object_new ();
      JsonArray *array = json_array_new ();

      json_object_set_string_member (object, "pn_id", user->pn_id);
      json_object_set_int_member (object, "revision", revision);
      for (guint i = 0; i < entities->len; i++)
        json_array_add_object_element (array, srv_inventory_entity_to_json (g_ptr_array_index (entities, i)));
      json_object_set_array_member (object, "entities", array);
      print_json_object (object);
    }
  else
    {
      printf ("PN %s of %s, revision %" G_GINT64_FORMAT "\n", user->pn_id, user->user_id, revision);
      if (entities->len == 0)
        printf ("No entities.\n");
      for (guint i = 0; i < entities->len; i++)
        {
          SrvEntity *e = g_ptr_array_index (entities, i);
          g_autoptr(JsonNode) descriptor = json_from_string (e->descriptor, NULL);
          const char *name = NULL, *type = NULL;

          if (descriptor && JSON_NODE_HOLDS_OBJECT (descriptor))
            {
              name = json_object_get_string_member_with_default (json_node_get_object (descriptor), "name", NULL);
              type = json_object_get_string_member_with_default (json_node_get_object (descriptor), "entity_type", NULL);
            }
          printf ("%s  %-12s %-10s %s\n", e->pne_id, e->state, type ? type : "?", name ? name : "");
        }
    }
  return 0;
}

/* ------------------------------------------------------------------ */
/* policy show / set / add */

JsonObject *srv_rule_to_json (const SrvRule *rule);

static int
cmd_policy_show (int argc, char **argv)
{
  g_auto(CommonOptions) common = { 0 };
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(SrvStore) store = NULL;
  g_autoptr(SrvPolicy) policy = NULL;
  int status = 0;

  if (!parse ("policy show", "USER", "Show USER's policy: the rules in order, then the default action.",
              NULL, TRUE, &common, &argc, &argv, &context, &status))
    return status;
  if (argc != 2)
    return usage_error (context, "policy show", "expected one USER");
  store = open_store (common.data_dir, &error);
  if (store == NULL || (policy = srv_store_get_policy (store, argv[1], &error)) == NULL)
    return fail ("policy show", error);

  if (common.json)
    {
      g_autoptr(JsonObject) object = srv_policy_to_json (policy);
      print_json_object (object);
      return 0;
    }
  for (guint i = 0; i < policy->rules->len; i++)
    {
      SrvRule *rule = g_ptr_array_index (policy->rules, i);
      g_autofree char *expires = rule->expires_at ? srv_time_format (rule->expires_at) : NULL;

      printf ("%u. %s  %-5s", i + 1, rule->id, rule->action);
      if (rule->match_pne_id)
        printf (" pne_id=%s", rule->match_pne_id);
      if (rule->match_entity_type)
        printf (" entity_type=%s", rule->match_entity_type);
      if (rule->match_gateway_id)
        printf (" gateway_id=%s", rule->match_gateway_id);
      if (!rule->match_pne_id && !rule->match_entity_type && !rule->match_gateway_id)
        printf (" (every entity)");
      if (expires)
        printf (" until %s", expires);
      printf ("\n");
    }
  printf ("default: %s\n", policy->default_action);
  return 0;
}

static int
cmd_policy_set (int argc, char **argv)
{
  g_auto(CommonOptions) common = { 0 };
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(SrvStore) store = NULL;
  g_autofree char *action = NULL;
  int status = 0;
  GOptionEntry entries[] = {
    { "default", 0, 0, G_OPTION_ARG_STRING, &action,
      "The action when no rule matches", "allow|ask|deny" },
    { NULL }
  };

  if (!parse ("policy set", "USER", "Set the default action of USER's policy.",
              entries, TRUE, &common, &argc, &argv, &context, &status))
    return status;
  if (argc != 2)
    return usage_error (context, "policy set", "expected one USER");
  if (!srv_policy_action_is_valid (action))
    return usage_error (context, "policy set", "--default must be allow, ask or deny");
  store = open_store (common.data_dir, &error);
  if (store == NULL || !srv_store_set_default_action (store, argv[1], action, &error))
    return fail ("policy set", error);
  if (common.json)
    {
      g_autoptr(JsonObject) object = json_object_new ();
      json_object_set_string_member (object, "user_id", argv[1]);
      json_object_set_string_member (object, "default_action", action);
      print_json_object (object);
    }
  else
    printf ("Default action of %s is now %s\n", argv[1], action);
  return 0;
}

static int
cmd_policy_add (int argc, char **argv)
{
  g_auto(CommonOptions) common = { 0 };
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(SrvStore) store = NULL;
  g_autoptr(SrvRule) rule = srv_rule_new ();
  g_auto(GStrv) matches = NULL;
  g_autofree char *action = NULL;
  g_autofree char *expires = NULL;
  gboolean first = FALSE;
  int status = 0;
  GOptionEntry entries[] = {
    { "match", 'm', 0, G_OPTION_ARG_STRING_ARRAY, &matches,
      "What the rule matches (repeatable; all must hold)", "pne_id=…|entity_type=…|gateway_id=…" },
    { "action", 'a', 0, G_OPTION_ARG_STRING, &action, "What to do on a match", "allow|ask|deny" },
    { "expires", 0, 0, G_OPTION_ARG_STRING, &expires, "When the rule stops applying", "RFC3339" },
    { "first", 0, 0, G_OPTION_ARG_NONE, &first, "Put the rule before the others (default: last)", NULL },
    { NULL }
  };

  if (!parse ("policy add", "USER", "Add a rule to USER's policy. The first matching rule decides.",
              entries, TRUE, &common, &argc, &argv, &context, &status))
    return status;
  if (argc != 2)
    return usage_error (context, "policy add", "expected one USER");
  if (!srv_policy_action_is_valid (action))
    return usage_error (context, "policy add", "--action must be allow, ask or deny");
  for (guint i = 0; matches && matches[i]; i++)
    {
      const char *eq = strchr (matches[i], '=');
      g_autofree char *key = eq ? g_strndup (matches[i], eq - matches[i]) : NULL;
      const char *value = eq ? eq + 1 : NULL;

      if (g_strcmp0 (key, "pne_id") == 0 && cpns_id_is_valid (CPNS_ID_PNE, value))
        { g_free (rule->match_pne_id); rule->match_pne_id = g_strdup (value); }
      else if (g_strcmp0 (key, "gateway_id") == 0 && cpns_id_is_valid (CPNS_ID_GATEWAY, value))
        { g_free (rule->match_gateway_id); rule->match_gateway_id = g_strdup (value); }
      else if (g_strcmp0 (key, "entity_type") == 0 && value && *value && strlen (value) <= 64)
        { g_free (rule->match_entity_type); rule->match_entity_type = g_strdup (value); }
      else
        return usage_error (context, "policy add",
                            "--match must be pne_id=pne-…, entity_type=TYPE or gateway_id=gw-…");
    }
  if (expires && !srv_time_parse (expires, &rule->expires_at))
    return usage_error (context, "policy add", "--expires must be an RFC 3339 time");
  rule->id = cpns_id_new (CPNS_ID_RULE);
  rule->action = g_strdup (action);

  store = open_store (common.data_dir, &error);
  if (store == NULL || !srv_store_add_rule (store, argv[1], rule, first, &error))
    return fail ("policy add", error);
  if (common.json)
    {
      g_autoptr(JsonObject) object = srv_rule_to_json (rule);
      print_json_object (object);
    }
  else
    printf ("Added rule %s to the policy of %s\n", rule->id, argv[1]);
  return 0;
}

/* ------------------------------------------------------------------ */
/* entity revoke */

static int
cmd_entity_revoke (int argc, char **argv)
{
  g_auto(CommonOptions) common = { 0 };
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(SrvStore) store = NULL;
  int status = 0;

  if (!parse ("entity revoke", "USER PNE_ID",
              "Remove an entity from USER's PN: its key is revoked, its sessions end and the\n"
              "gateways connected to the server are told (entity_revoked event).",
              NULL, TRUE, &common, &argc, &argv, &context, &status))
    return status;
  if (argc != 3)
    return usage_error (context, "entity revoke", "expected USER and PNE_ID");
  if (!cpns_id_is_valid (CPNS_ID_PNE, argv[2]))
    return usage_error (context, "entity revoke", "PNE_ID must look like pne-<32 hex digits>");
  store = open_store (common.data_dir, &error);
  if (store == NULL || !srv_store_remove_entity (store, argv[1], argv[2], srv_now (), &error))
    return fail ("entity revoke", error);
  if (common.json)
    {
      g_autoptr(JsonObject) object = json_object_new ();
      json_object_set_string_member (object, "pne_id", argv[2]);
      json_object_set_string_member (object, "state", "revoked");
      print_json_object (object);
    }
  else
    printf ("Revoked %s of %s\n", argv[2], argv[1]);
  return 0;
}

/* ------------------------------------------------------------------ */

static const char usage[] =
  "Usage: cpns-server COMMAND [OPTIONS]\n"
  "\n"
  "The CPNS server of a personal network and its admin commands.\n"
  "\n"
  "Commands:\n"
  "  init [--hostname NAME] [--url URL]   create the data dir, certificate and database\n"
  "  serve [--listen ADDR:PORT]           run the HTTPS API (default 127.0.0.1:7443)\n"
  "  user add NAME [--server-url URL]     create a user, print an enrollment invitation\n"
  "  user list                            list users\n"
  "  inventory USER                       show a user's PN inventory\n"
  "  policy show USER                     show a user's policy\n"
  "  policy set USER --default ACTION     set the default action (allow|ask|deny)\n"
  "  policy add USER --match K=V --action ACTION   add a rule\n"
  "  entity revoke USER PNE_ID            remove an entity from a PN\n"
  "\n"
  "Every command takes --data-dir DIR and --help; those that print take --json.\n"
  "Also: cpns-server --version\n";

typedef int (*CommandFunc) (int argc, char **argv);

static int
run_sub (CommandFunc func,
         int         argc,
         char      **argv,
         int         skip)
{
  /* argv[skip] becomes the program name of the subcommand's parser. */
  return func (argc - skip, argv + skip);
}

int
srv_cli_run (int    argc,
             char **argv)
{
  const char *command = argc > 1 ? argv[1] : NULL;
  const char *sub = argc > 2 ? argv[2] : NULL;

  setlocale (LC_ALL, "");
  /* GnuTLS writes every TLS secret to the file this names: never. */
  g_unsetenv ("SSLKEYLOGFILE");
  /* stdout is for results (and --json); every log line goes to stderr. */
  g_log_writer_default_set_use_stderr (TRUE);

  if (command == NULL || strcmp (command, "--help") == 0 || strcmp (command, "-h") == 0 ||
      strcmp (command, "help") == 0)
    {
      fputs (usage, command ? stdout : stderr);
      return command ? 0 : 2;
    }
  if (strcmp (command, "--version") == 0)
    {
      printf ("cpns-server %s\n", PACKAGE_VERSION);
      return 0;
    }
  if (strcmp (command, "init") == 0)
    return run_sub (cmd_init, argc, argv, 1);
  if (strcmp (command, "serve") == 0)
    return run_sub (cmd_serve, argc, argv, 1);
  if (strcmp (command, "inventory") == 0)
    return run_sub (cmd_inventory, argc, argv, 1);
  if (strcmp (command, "user") == 0 && g_strcmp0 (sub, "add") == 0)
    return run_sub (cmd_user_add, argc, argv, 2);
  if (strcmp (command, "user") == 0 && g_strcmp0 (sub, "list") == 0)
    return run_sub (cmd_user_list, argc, argv, 2);
  if (strcmp (command, "policy") == 0 && g_strcmp0 (sub, "show") == 0)
    return run_sub (cmd_policy_show, argc, argv, 2);
  if (strcmp (command, "policy") == 0 && g_strcmp0 (sub, "set") == 0)
    return run_sub (cmd_policy_set, argc, argv, 2);
  if (strcmp (command, "policy") == 0 && g_strcmp0 (sub, "add") == 0)
    return run_sub (cmd_policy_add, argc, argv, 2);
  if (strcmp (command, "entity") == 0 && g_strcmp0 (sub, "revoke") == 0)
    return run_sub (cmd_entity_revoke, argc, argv, 2);

  g_printerr ("cpns-server: unknown command '%s%s%s'\n\n%s", command, sub ? " " : "",
              sub ? sub : "", usage);
  return 2;
}
