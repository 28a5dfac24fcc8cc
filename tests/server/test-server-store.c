/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Unit: the server's store, policy evaluator, limiter and enrollment codes,
 * in process. */
#include "config.h"

#include <string.h>

#include <glib/gstdio.h>

#include "cpns-error.h"
#include "cpns-ids.h"
#include "srv-enrollment.h"
#include "srv-limiter.h"
#include "srv-policy.h"
#include "srv-store.h"
#include "srv-time.h"

typedef struct
{
  char     *dir;
  char     *path;
  SrvStore *store;
} Fixture;

static void
fixture_set_up (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  f->dir = g_dir_make_tmp ("cpns-store-test-XXXXXX", &error);
  g_assert_no_error (error);
  f->path = g_build_filename (f->dir, "cpns-server.db", NULL);
  f->store = srv_store_open (f->path, &error);
  g_assert_no_error (error);
  g_assert_nonnull (f->store);
}

static void
fixture_tear_down (Fixture       *f,
                   gconstpointer  data)
{
  g_autofree char *wal = g_strconcat (f->path, "-wal", NULL);
  g_autofree char *shm = g_strconcat (f->path, "-shm", NULL);

  g_clear_pointer (&f->store, srv_store_free);
  g_remove (f->path);
  g_remove (wal);
  g_remove (shm);
  g_rmdir (f->dir);
  g_free (f->path);
  g_free (f->dir);
}

/* A user with a gateway; returns the gateway id. */
static char *
add_gateway (Fixture    *f,
             const char *user_id)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *unique = g_strconcat (user_id, "-code", NULL);
  g_autofree char *unique_hash = srv_enrollment_code_hash (unique);
  char *gateway_id = cpns_id_new (CPNS_ID_GATEWAY);
  guint8 secret[32] = { 1 };
  gint64 now = srv_now ();

  srv_store_add_user_code (f->store, user_id, unique_hash, now, now + G_USEC_PER_SEC * 60, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (srv_store_enroll (f->store, user_id, unique_hash, now, gateway_id, "gw", secret, &error));
  g_assert_no_error (error);
  return gateway_id;
}

static void
test_schema (Fixture       *f,
             gconstpointer  data)
{
  g_autofree char *check = srv_store_integrity_check (f->store);
  g_autoptr(GError) error = NULL;
  g_autoptr(SrvStore) again = NULL;
  GStatBuf st;

  g_assert_cmpstr (check, ==, "ok");
  /* Owner only: it holds secrets. */
  g_assert_cmpint (g_stat (f->path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0077, ==, 0);
  /* Reopening a current database migrates nothing and keeps working. */
  srv_store_free (g_steal_pointer (&f->store));
  again = srv_store_open (f->path, &error);
  g_assert_no_error (error);
  f->store = g_steal_pointer (&again);
}

static void
test_enrollment (Fixture       *f,
                 gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *code = srv_enrollment_code_new ();
  g_autofree char *hash = srv_enrollment_code_hash (code);
  g_autofree char *lower = g_ascii_strdown (code, -1);
  g_autofree char *lower_hash = srv_enrollment_code_hash (lower);
  g_autofree char *wrong = srv_enrollment_code_hash ("AAAA-AAAA-AAAA-AAAA");
  g_autofree char *gw1 = cpns_id_new (CPNS_ID_GATEWAY);
  g_autofree char *gw2 = cpns_id_new (CPNS_ID_GATEWAY);
  guint8 secret[32] = { 9 };
  gboolean created = FALSE;
  gint64 now = srv_now ();
  g_autoptr(SrvGateway) gateway = NULL;

  g_assert_true (g_regex_match_simple ("^[A-Z2-7]{4}(-[A-Z2-7]{4}){3}$", code, 0, 0));
  g_assert_cmpstr (hash, ==, lower_hash);
  g_assert_cmpuint (strlen (hash), ==, 64);

  g_assert_true (srv_store_add_user_code (f->store, "alice", hash, now, now + G_USEC_PER_SEC, &created, &error));
  g_assert_true (created);

  g_assert_false (srv_store_enroll (f->store, "alice", wrong, now, gw1, "gw", secret, &error));
  g_assert_error (error, CPNS_ERROR, CPNS_ERROR_UNAUTHORIZED);
  g_clear_error (&error);
  g_assert_false (srv_store_enroll (f->store, "bob", hash, now, gw1, "gw", secret, &error));
  g_assert_error (error, CPNS_ERROR, CPNS_ERROR_UNAUTHORIZED);
  g_clear_error (&error);
  /* Expired. */
  g_assert_false (srv_store_enroll (f->store, "alice", hash, now + 2 * G_USEC_PER_SEC, gw1, "gw", secret, &error));
  g_assert_error (error, CPNS_ERROR, CPNS_ERROR_UNAUTHORIZED);
  g_clear_error (&error);

  g_assert_true (srv_store_enroll (f->store, "alice", hash, now, gw1, "gw", secret, &error));
  g_assert_no_error (error);
  /* Used. */
  g_assert_false (srv_store_enroll (f->store, "alice", hash, now, gw2, "gw", secret, &error));
  g_assert_error (error, CPNS_ERROR, CPNS_ERROR_UNAUTHORIZED);
  g_clear_error (&error);

  gateway = srv_store_get_gateway (f->store, gw1, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (gateway->secret, 32, secret, 32);
  g_assert_cmpstr (gateway->user_id, ==, "alice");
}

static void
test_entities (Fixture       *f,
               gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *gw = add_gateway (f, "carol");
  g_autofree char *other_gw = add_gateway (f, "dave");
  g_autofree char *pne = cpns_id_new (CPNS_ID_PNE);
  g_autofree char *key = cpns_id_new (CPNS_ID_KEY);
  g_autofree char *key2 = cpns_id_new (CPNS_ID_KEY);
  g_autofree char *state = NULL;
  g_autoptr(SrvEntity) entity = NULL;
  g_autoptr(GPtrArray) events = NULL;
  g_autoptr(GPtrArray) list = NULL;
  guint8 euk[32] = { 3 }, euk2[32] = { 4 };
  gint64 now = srv_now (), revision = 0, first_event = srv_store_last_event_id (f->store);

  g_assert_true (srv_store_register_entity (f->store, "carol", gw, pne, "{\"name\":\"x\"}", "server", key,
                                            euk, now, &error));
  g_assert_no_error (error);
  /* Never an overwrite, from any PN. */
  g_assert_false (srv_store_register_entity (f->store, "dave", other_gw, pne, "{}", "server", key2, euk2,
                                             now, &error));
  g_assert_error (error, CPNS_ERROR, CPNS_ERROR_CONFLICT);
  g_clear_error (&error);
  /* Not visible from another PN. */
  g_assert_null (srv_store_get_entity (f->store, "dave", pne, &error));
  g_assert_error (error, CPNS_ERROR, CPNS_ERROR_NOT_FOUND);
  g_clear_error (&error);

  state = srv_store_confirm_key (f->store, "carol", pne, key2, now, &error);
  g_assert_error (error, CPNS_ERROR, CPNS_ERROR_CONFLICT);
  g_clear_error (&error);
  state = srv_store_confirm_key (f->store, "carol", pne, key, now, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (state, ==, "registered");

  /* Rekey: old key until the new one is confirmed. */
  g_assert_true (srv_store_begin_rekey (f->store, "carol", pne, "gateway", key2, euk2, &error));
  entity = srv_store_get_entity (f->store, "carol", pne, &error);
  g_assert_cmpstr (entity->key_id, ==, key);
  g_assert_cmpmem (entity->euk, 32, euk, 32);
  g_clear_pointer (&entity, srv_entity_free);
  g_free (state);
  state = srv_store_confirm_key (f->store, "carol", pne, key2, now, &error);
  g_assert_no_error (error);
  entity = srv_store_get_entity (f->store, "carol", pne, &error);
  g_assert_cmpstr (entity->key_id, ==, key2);
  g_assert_cmpmem (entity->euk, 32, euk2, 32);
  g_assert_cmpstr (entity->key_assignment, ==, "gateway");
  g_assert_null (entity->pending_key_id);
  g_clear_pointer (&entity, srv_entity_free);

  g_assert_cmpint (srv_store_update_inventory (f->store, "carol", pne, "connected", NULL, "[\"a\"]", now, &error),
                   >, 0);
  g_assert_no_error (error);

  /* Remove: revoked, key wiped, events in the outbox. */
  g_assert_true (srv_store_remove_entity (f->store, "carol", pne, now, &error));
  entity = srv_store_get_entity (f->store, "carol", pne, &error);
  g_assert_cmpstr (entity->state, ==, "revoked");
  g_assert_false (entity->has_euk);
  g_assert_cmpint (srv_store_update_inventory (f->store, "carol", pne, "connected", NULL, NULL, now, &error),
                   ==, -1);
  g_assert_error (error, CPNS_ERROR, CPNS_ERROR_REVOKED);
  g_clear_error (&error);

  events = srv_store_events_after (f->store, first_event, 100, &error);
  g_assert_no_error (error);
  {
    gboolean saw_revoked = FALSE;

    for (guint i = 0; i < events->len; i++)
      {
        SrvEvent *event = g_ptr_array_index (events, i);

        g_assert_cmpstr (event->user_id, ==, "carol");
        if (strstr (event->body, "entity_revoked") && strstr (event->body, pne))
          saw_revoked = TRUE;
      }
    g_assert_true (saw_revoked);
  }

  /* Inventory since a revision. */
  list = srv_store_list_entities (f->store, "carol", 0, &revision, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (list->len, ==, 1);
  g_clear_pointer (&list, g_ptr_array_unref);
  list = srv_store_list_entities (f->store, "carol", revision, NULL, &error);
  g_assert_cmpuint (list->len, ==, 0);
}

static void
test_purge (Fixture       *f,
            gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *gw = add_gateway (f, "erin");
  g_autofree char *old = cpns_id_new (CPNS_ID_PNE);
  g_autofree char *fresh = cpns_id_new (CPNS_ID_PNE);
  g_autofree char *k1 = cpns_id_new (CPNS_ID_KEY);
  g_autofree char *k2 = cpns_id_new (CPNS_ID_KEY);
  guint8 euk[32] = { 0 };
  gint64 now = srv_now ();
  g_autoptr(SrvEntity) kept = NULL;

  g_assert_true (srv_store_register_entity (f->store, "erin", gw, old, "{}", "server", k1, euk,
                                            now - 400 * G_USEC_PER_SEC, &error));
  g_assert_true (srv_store_register_entity (f->store, "erin", gw, fresh, "{}", "server", k2, euk, now, &error));
  g_assert_cmpuint (srv_store_purge_pending (f->store, now - 300 * G_USEC_PER_SEC, &error), ==, 1);
  g_assert_null (srv_store_get_entity (f->store, NULL, old, NULL));
  kept = srv_store_get_entity (f->store, NULL, fresh, &error);
  g_assert_nonnull (kept);
}

static void
test_policy_store (Fixture       *f,
                   gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *gw = add_gateway (f, "frank");
  g_autoptr(SrvPolicy) policy = NULL;
  g_autoptr(SrvRule) first = srv_rule_new ();
  g_autoptr(SrvRule) last = srv_rule_new ();

  policy = srv_store_get_policy (f->store, "frank", &error);
  g_assert_cmpstr (policy->default_action, ==, "ask");
  g_assert_cmpuint (policy->rules->len, ==, 0);
  g_clear_pointer (&policy, srv_policy_free);

  last->id = cpns_id_new (CPNS_ID_RULE);
  last->action = g_strdup ("deny");
  first->id = cpns_id_new (CPNS_ID_RULE);
  first->action = g_strdup ("allow");
  first->match_gateway_id = g_strdup (gw);
  g_assert_true (srv_store_add_rule (f->store, "frank", last, FALSE, &error));
  g_assert_true (srv_store_add_rule (f->store, "frank", first, TRUE, &error));
  g_assert_true (srv_store_set_default_action (f->store, "frank", "allow", &error));
  /* A rule id is unique across PNs. */
  g_assert_false (srv_store_add_rule (f->store, "frank", last, FALSE, &error));
  g_assert_error (error, CPNS_ERROR, CPNS_ERROR_CONFLICT);
  g_clear_error (&error);

  policy = srv_store_get_policy (f->store, "frank", &error);
  g_assert_cmpstr (policy->default_action, ==, "allow");
  g_assert_cmpuint (policy->rules->len, ==, 2);
  g_assert_cmpstr (((SrvRule *) g_ptr_array_index (policy->rules, 0))->id, ==, first->id);
  g_assert_cmpstr (((SrvRule *) g_ptr_array_index (policy->rules, 1))->id, ==, last->id);

  /* Replace: all or nothing. */
  g_assert_true (srv_store_replace_policy (f->store, "frank", policy, &error));
  g_assert_no_error (error);

  srv_store_log_decision (f->store, "frank", "auth-x", "pne-y", gw, "allow", first->id, "rule", srv_now ());
  g_assert_true (srv_store_flush_decisions (f->store, &error));
  g_assert_cmpint (srv_store_count_decisions (f->store, "pne-y"), ==, 1);
}

static void
test_policy_evaluate (void)
{
  g_autoptr(SrvPolicy) policy = srv_policy_new ("ask");
  SrvRule *expired = srv_rule_new (), *by_pne = srv_rule_new (), *by_type = srv_rule_new ();
  const char *rule_id = NULL;
  gint64 now = srv_now ();

  expired->id = g_strdup ("rule-expired");
  expired->action = g_strdup ("deny");
  expired->expires_at = now - 1;
  by_pne->id = g_strdup ("rule-pne");
  by_pne->match_pne_id = g_strdup ("pne-a");
  by_pne->action = g_strdup ("allow");
  by_type->id = g_strdup ("rule-type");
  by_type->match_entity_type = g_strdup ("camera");
  by_type->match_gateway_id = g_strdup ("gw-1");
  by_type->action = g_strdup ("deny");
  g_ptr_array_add (policy->rules, expired);
  g_ptr_array_add (policy->rules, by_pne);
  g_ptr_array_add (policy->rules, by_type);

  /* First match wins; the expired rule is skipped. */
  g_assert_cmpstr (srv_policy_evaluate (policy, "pne-a", "camera", "gw-1", now, &rule_id), ==, "allow");
  g_assert_cmpstr (rule_id, ==, "rule-pne");
  g_assert_cmpstr (srv_policy_evaluate (policy, "pne-b", "camera", "gw-1", now, &rule_id), ==, "deny");
  g_assert_cmpstr (rule_id, ==, "rule-type");
  /* All match fields must hold. */
  g_assert_cmpstr (srv_policy_evaluate (policy, "pne-b", "camera", "gw-2", now, &rule_id), ==, "ask");
  g_assert_null (rule_id);
  /* Before expiry, the first rule (matching everything) decides. */
  g_assert_cmpstr (srv_policy_evaluate (policy, "pne-a", "camera", "gw-1", now - 10, &rule_id), ==, "deny");
  g_assert_cmpstr (rule_id, ==, "rule-expired");
}

static void
test_policy_json (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = json_from_string (
    "{\"default_action\":\"deny\",\"rules\":[{\"id\":\"rule-0123456789abcdef0123456789abcdef\","
    "\"match\":{\"entity_type\":\"sensor\"},\"action\":\"allow\",\"expires_at\":\"2030-01-01T00:00:00Z\"}]}",
    NULL);
  g_autoptr(JsonNode) bad = json_from_string ("{\"default_action\":\"deny\",\"rules\":[{\"action\":\"nope\"}]}", NULL);
  g_autoptr(SrvPolicy) policy = srv_policy_from_json (json_node_get_object (node), &error);
  g_autoptr(SrvPolicy) none = NULL;
  g_autoptr(JsonObject) back = NULL;
  SrvRule *rule;

  g_assert_no_error (error);
  rule = g_ptr_array_index (policy->rules, 0);
  g_assert_cmpstr (rule->match_entity_type, ==, "sensor");
  g_assert_cmpint (rule->expires_at, ==, G_GINT64_CONSTANT (1893456000) * G_USEC_PER_SEC);
  back = srv_policy_to_json (policy);
  g_assert_cmpstr (json_object_get_string_member (back, "default_action"), ==, "deny");

  none = srv_policy_from_json (json_node_get_object (bad), &error);
  g_assert_null (none);
  g_assert_error (error, CPNS_ERROR, CPNS_ERROR_BAD_REQUEST);
}

static void
test_limiter (void)
{
  g_autoptr(SrvLimiter) limiter = srv_limiter_new (5, 300 * G_USEC_PER_SEC, 300 * G_USEC_PER_SEC);
  gint64 t = 1000 * G_USEC_PER_SEC, retry = 0;

  for (int i = 0; i < 4; i++)
    g_assert_false (srv_limiter_fail (limiter, "pne-a", t + i));
  g_assert_false (srv_limiter_is_locked (limiter, "pne-a", t + 10, NULL));
  /* Old failures slide out of the window. */
  g_assert_false (srv_limiter_fail (limiter, "pne-a", t + 301 * G_USEC_PER_SEC));
  g_assert_false (srv_limiter_is_locked (limiter, "pne-a", t + 302 * G_USEC_PER_SEC, NULL));

  for (int i = 0; i < 4; i++)
    srv_limiter_fail (limiter, "pne-b", t);
  g_assert_true (srv_limiter_fail (limiter, "pne-b", t));
  g_assert_true (srv_limiter_is_locked (limiter, "pne-b", t + 100 * G_USEC_PER_SEC, &retry));
  g_assert_cmpint (retry, ==, 200);
  g_assert_false (srv_limiter_is_locked (limiter, "pne-b", t + 300 * G_USEC_PER_SEC, NULL));
  g_assert_false (srv_limiter_is_locked (limiter, "pne-c", t, NULL));

  srv_limiter_prune (limiter, t + 1000 * G_USEC_PER_SEC);
  g_assert_cmpuint (srv_limiter_size (limiter), ==, 0);
}

#define SEC(s) ((gint64) (s) * G_USEC_PER_SEC)

/* Lockouts survive a restart (the store reopened, a new limiter): the
 * lock with its end, the failures still in the window; the window and
 * the lock still expire, and prune empties the table. */
static void
test_limiter_persistent (Fixture       *f,
                         gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SrvLimiter) limiter = NULL;
  g_autoptr(SrvLimiter) other = NULL;
  gint64 t = SEC (1000000), retry = 0;

  limiter = srv_limiter_new_persistent (f->store, "enroll", 3, SEC (10), SEC (20));
  g_assert_false (srv_limiter_fail (limiter, "alice", t + SEC (1)));
  g_assert_false (srv_limiter_fail (limiter, "alice", t + SEC (2)));
  g_assert_false (srv_limiter_fail (limiter, "bob", t + SEC (1)));
  g_assert_false (srv_limiter_fail (limiter, "bob", t + SEC (2)));
  g_assert_true (srv_limiter_fail (limiter, "bob", t + SEC (3)));   /* locked until t + 23 s */

  /* Restart. */
  g_clear_pointer (&limiter, srv_limiter_free);
  srv_store_free (g_steal_pointer (&f->store));
  f->store = srv_store_open (f->path, &error);
  g_assert_no_error (error);
  limiter = srv_limiter_new_persistent (f->store, "enroll", 3, SEC (10), SEC (20));
  g_assert_cmpuint (srv_limiter_size (limiter), ==, 2);
  g_assert_true (srv_limiter_is_locked (limiter, "bob", t + SEC (5), &retry));
  g_assert_cmpint (retry, ==, 18);
  /* alice's two failures are still in the window: the third locks. */
  g_assert_false (srv_limiter_is_locked (limiter, "alice", t + SEC (5), NULL));
  g_assert_true (srv_limiter_fail (limiter, "alice", t + SEC (5)));
  g_assert_true (srv_limiter_is_locked (limiter, "alice", t + SEC (6), &retry));
  g_assert_cmpint (retry, ==, 19);
  /* Another scope (another limit) does not see them. */
  other = srv_limiter_new_persistent (f->store, "pne", 3, SEC (10), SEC (20));
  g_assert_cmpuint (srv_limiter_size (other), ==, 0);
  g_assert_false (srv_limiter_is_locked (other, "bob", t + SEC (5), NULL));

  /* The lock ends at its time, restart or not. */
  g_assert_false (srv_limiter_is_locked (limiter, "bob", t + SEC (23), NULL));
  g_clear_pointer (&limiter, srv_limiter_free);
  limiter = srv_limiter_new_persistent (f->store, "enroll", 3, SEC (10), SEC (20));
  g_assert_false (srv_limiter_is_locked (limiter, "bob", t + SEC (23), NULL));
  g_assert_true (srv_limiter_is_locked (limiter, "alice", t + SEC (23), NULL));

  /* Failures slide out of the window across a restart too. */
  g_assert_false (srv_limiter_fail (limiter, "carol", t + SEC (1)));
  g_assert_false (srv_limiter_fail (limiter, "carol", t + SEC (2)));
  g_clear_pointer (&limiter, srv_limiter_free);
  limiter = srv_limiter_new_persistent (f->store, "enroll", 3, SEC (10), SEC (20));
  g_assert_false (srv_limiter_fail (limiter, "carol", t + SEC (12)));
  g_assert_false (srv_limiter_is_locked (limiter, "carol", t + SEC (12), NULL));

  /* Prune forgets what has expired, in the store as well. */
  srv_limiter_prune (limiter, t + SEC (100));
  g_assert_cmpuint (srv_limiter_size (limiter), ==, 0);
  g_clear_pointer (&limiter, srv_limiter_free);
  limiter = srv_limiter_new_persistent (f->store, "enroll", 3, SEC (10), SEC (20));
  g_assert_cmpuint (srv_limiter_size (limiter), ==, 0);
}

/* srv_limiter_new() keeps its counters in memory only; a persistent
 * limiter holds a reference on its store, which stays usable after the
 * server drops its own (srv_server_free() frees the store first). */
static void
test_limiter_store_reference (Fixture       *f,
                              gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SrvLimiter) limiter = srv_limiter_new (2, SEC (60), SEC (60));
  gint64 now = srv_now (), retry = 0;

  g_assert_false (srv_limiter_fail (limiter, "dave", now));
  g_assert_true (srv_limiter_fail (limiter, "dave", now));
  g_clear_pointer (&limiter, srv_limiter_free);
  limiter = srv_limiter_new_persistent (f->store, "enroll", 2, SEC (60), SEC (60));
  g_assert_false (srv_limiter_is_locked (limiter, "dave", now, NULL));

  g_assert_false (srv_limiter_fail (limiter, "dave", now));
  g_assert_true (srv_limiter_fail (limiter, "dave", now));
  srv_store_free (g_steal_pointer (&f->store));
  g_assert_false (srv_limiter_fail (limiter, "erin", now));
  srv_limiter_prune (limiter, now + SEC (1));
  g_clear_pointer (&limiter, srv_limiter_free);

  f->store = srv_store_open (f->path, &error);
  g_assert_no_error (error);
  limiter = srv_limiter_new_persistent (f->store, "enroll", 2, SEC (60), SEC (60));
  g_assert_true (srv_limiter_is_locked (limiter, "dave", now + SEC (1), &retry));
  g_assert_cmpint (retry, ==, 59);
}

static void
test_time (void)
{
  gint64 t = 0;
  g_autofree char *text = srv_time_format (G_GINT64_CONSTANT (1796061600) * G_USEC_PER_SEC);

  g_assert_cmpstr (text, ==, "2026-11-30T18:00:00Z");
  g_assert_true (srv_time_parse ("2026-11-30T18:00:00Z", &t));
  g_assert_cmpint (t, ==, G_GINT64_CONSTANT (1796061600) * G_USEC_PER_SEC);
  g_assert_false (srv_time_parse ("yesterday", &t));
}

static void
test_invitation (void)
{
  g_autofree char *uri = srv_enrollment_invitation ("https://host:7443", "alice", "ABCD-EFGH-IJKL-MNOP",
                                                    "00ff");

  g_assert_cmpstr (uri, ==, "cpns://enroll?server=https%3A%2F%2Fhost%3A7443&user=alice"
                            "&code=ABCD-EFGH-IJKL-MNOP&pin=sha256:00ff");
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add ("/server/store/schema", Fixture, NULL, fixture_set_up, test_schema, fixture_tear_down);
  g_test_add ("/server/store/enrollment", Fixture, NULL, fixture_set_up, test_enrollment, fixture_tear_down);
  g_test_add ("/server/store/entities", Fixture, NULL, fixture_set_up, test_entities, fixture_tear_down);
  g_test_add ("/server/store/purge", Fixture, NULL, fixture_set_up, test_purge, fixture_tear_down);
  g_test_add ("/server/store/policy", Fixture, NULL, fixture_set_up, test_policy_store, fixture_tear_down);
  g_test_add_func ("/server/policy/evaluate", test_policy_evaluate);
  g_test_add_func ("/server/policy/json", test_policy_json);
  g_test_add_func ("/server/limiter", test_limiter);
  g_test_add ("/server/limiter/persistent", Fixture, NULL, fixture_set_up, test_limiter_persistent,
              fixture_tear_down);
  g_test_add ("/server/limiter/store-reference", Fixture, NULL, fixture_set_up, test_limiter_store_reference,
              fixture_tear_down);
  g_test_add_func ("/server/time", test_time);
  g_test_add_func ("/server/invitation", test_invitation);
  return g_test_run ();
}
