/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The gateway's SQLite registry. */
#include "config.h"

#include <glib/gstdio.h>
#include <sqlite3.h>

#include "gw-event-private.h"
#include "gw-registry.h"

#define PNE_A "pne-0000000000000000000000000000000a"
#define PNE_B "pne-0000000000000000000000000000000b"

static char *
registry_path (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("gw-registry-XXXXXX", &error);

  g_assert_no_error (error);
  return g_build_filename (dir, "sub", "registry.sqlite", NULL);
}

static GwEntityInfo *
entity (const char *pne_id,
        const char *name)
{
  GwEntityInfo *e = g_new0 (GwEntityInfo, 1);

  e->pne_id = g_strdup (pne_id);
  e->name = g_strdup (name);
  e->entity_type = g_strdup ("sensor");
  e->state = GW_ENTITY_REGISTERED;
  e->key_mode = g_strdup ("server");
  e->key_id = g_strdup ("key-0123456789abcdef");
  e->registered_at = 1000;
  return e;
}

static void
test_entities (void)
{
  g_autofree char *path = registry_path ();
  g_autoptr(GwRegistry) reg = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GwEntityInfo) a = entity (PNE_A, "Thermo");
  g_autoptr(GwEntityInfo) b = entity (PNE_B, "Lamp");
  g_autoptr(GwEntityInfo) got = NULL;
  g_autoptr(GPtrArray) list = NULL;
  g_auto(GStrv) pending = NULL;

  reg = gw_registry_open (path, &error);
  g_assert_no_error (error);
  g_assert_true (gw_registry_put_entity (reg, a,
                                         "{\"name\":\"Thermo\",\"entity_type\":\"sensor\","
                                         "\"services\":[{\"name\":\"temperature\",\"protocol\":\"coap\",\"port\":5683}]}",
                                         FALSE, &error));
  g_assert_true (gw_registry_put_entity (reg, b, NULL, TRUE, &error));

  got = gw_registry_get_entity (reg, PNE_A);
  g_assert_cmpstr (got->name, ==, "Thermo");
  g_assert_cmpstr (got->key_id, ==, "key-0123456789abcdef");
  g_assert_cmpstr (got->services[0], ==, "temperature (coap:5683)");

  /* Pending entities are not listed, but are found for cleanup. */
  list = gw_registry_list_entities (reg);
  g_assert_cmpuint (list->len, ==, 1);
  pending = gw_registry_list_pending (reg);
  g_assert_cmpstr (pending[0], ==, PNE_B);
  g_assert_null (pending[1]);

  /* An update keeps the descriptor. */
  g_free (a->name);
  a->name = g_strdup ("Living room");
  g_assert_true (gw_registry_put_entity (reg, a, NULL, FALSE, &error));
  g_clear_pointer (&got, gw_entity_info_free);
  got = gw_registry_get_entity (reg, PNE_A);
  g_assert_cmpstr (got->name, ==, "Living room");
  g_assert_nonnull (got->services);

  g_assert_true (gw_registry_set_pending (reg, PNE_B, FALSE, &error));
  g_clear_pointer (&list, g_ptr_array_unref);
  list = gw_registry_list_entities (reg);
  g_assert_cmpuint (list->len, ==, 2);

  g_assert_true (gw_registry_delete_entity (reg, PNE_A, &error));
  g_clear_pointer (&got, gw_entity_info_free);
  g_assert_null (gw_registry_get_entity (reg, PNE_A));

  /* Durable across a reopen. */
  g_clear_pointer (&reg, gw_registry_free);
  reg = gw_registry_open (path, &error);
  g_assert_no_error (error);
  got = gw_registry_get_entity (reg, PNE_B);
  g_assert_nonnull (got);
  g_assert_cmpstr (got->name, ==, "Lamp");
}

static void
test_steps (void)
{
  g_autofree char *path = registry_path ();
  g_autoptr(GwRegistry) reg = gw_registry_open (path, NULL);
  g_autoptr(GPtrArray) steps = NULL;
  GwStepInfo s = { 0 };
  guint64 first, second;

  first = gw_registry_next_flow_id (reg);
  second = gw_registry_next_flow_id (reg);
  g_assert_cmpuint (second, ==, first + 1);

  s.flow_id = first;
  s.flow_kind = GW_FLOW_PAIRING;
  s.pne_name = (char *) "Thermo";
  s.step = GW_STEP_2;
  s.outcome = GW_STEP_RUNNING;
  s.started_at = 10;
  g_assert_true (gw_registry_record_step (reg, &s, NULL));
  s.outcome = GW_STEP_DONE;
  s.finished_at = 20;
  g_assert_true (gw_registry_record_step (reg, &s, NULL));   /* replaces */
  s.step = GW_STEP_3BD;
  s.outcome = GW_STEP_RUNNING;
  s.started_at = 30;
  s.finished_at = 0;
  g_assert_true (gw_registry_record_step (reg, &s, NULL));

  steps = gw_registry_list_steps (reg, 0);
  g_assert_cmpuint (steps->len, ==, 2);
  g_assert_cmpint (((GwStepInfo *) steps->pdata[0])->step, ==, GW_STEP_2);
  g_assert_cmpint (((GwStepInfo *) steps->pdata[0])->outcome, ==, GW_STEP_DONE);
  g_assert_cmpint (((GwStepInfo *) steps->pdata[1])->outcome, ==, GW_STEP_RUNNING);

  /* A crash leaves a step running: the next start records it failed. */
  gw_registry_fail_running_steps (reg);
  g_clear_pointer (&steps, g_ptr_array_unref);
  steps = gw_registry_list_steps (reg, 0);
  g_assert_cmpint (((GwStepInfo *) steps->pdata[1])->outcome, ==, GW_STEP_FAILED);
  g_assert_nonnull (((GwStepInfo *) steps->pdata[1])->error);
  g_assert_cmpint (((GwStepInfo *) steps->pdata[1])->error->code, ==, CPNS_ERROR_INTERNAL);

  /* Flow ids keep growing after a reopen. */
  g_clear_pointer (&reg, gw_registry_free);
  reg = gw_registry_open (path, NULL);
  g_assert_cmpuint (gw_registry_next_flow_id (reg), >, first);

  /* The limit keeps the newest. */
  g_clear_pointer (&steps, g_ptr_array_unref);
  steps = gw_registry_list_steps (reg, 1);
  g_assert_cmpuint (steps->len, ==, 1);
  g_assert_cmpint (((GwStepInfo *) steps->pdata[0])->step, ==, GW_STEP_3BD);
}

static void
test_inventory_queue_and_settings (void)
{
  g_autofree char *path = registry_path ();
  g_autoptr(GwRegistry) reg = gw_registry_open (path, NULL);
  g_autoptr(GPtrArray) queue = NULL;
  g_autofree char *value = NULL;
  GwQueuedInventory *q;

  g_assert_true (gw_registry_queue_inventory (reg, PNE_A, "connected", "ses-00000000000000000000000000000001",
                                              "[\"temperature\"]", NULL));
  g_assert_true (gw_registry_queue_inventory (reg, PNE_A, "disconnected", NULL, "[]", NULL));
  queue = gw_registry_list_inventory_queue (reg);
  g_assert_cmpuint (queue->len, ==, 1);   /* the newest state only */
  q = queue->pdata[0];
  g_assert_cmpstr (q->state, ==, "disconnected");
  g_assert_null (q->session_id);
  gw_registry_dequeue_inventory (reg, PNE_A);
  g_clear_pointer (&queue, g_ptr_array_unref);
  queue = gw_registry_list_inventory_queue (reg);
  g_assert_cmpuint (queue->len, ==, 0);

  g_assert_null (gw_registry_get_setting (reg, "server_url"));
  g_assert_true (gw_registry_set_setting (reg, "server_url", "https://x", NULL));
  value = gw_registry_get_setting (reg, "server_url");
  g_assert_cmpstr (value, ==, "https://x");
  g_assert_true (gw_registry_set_setting (reg, "server_url", NULL, NULL));
  g_clear_pointer (&value, g_free);
  value = gw_registry_get_setting (reg, "server_url");
  g_assert_null (value);
}

/* ------------------------------------------------------------------ */
/* Enrollment: one transaction */

static const char *enrollment_keys[] = {
  "server_url", "pin_sha256", "user_id", "pn_id", "gateway_name", "gateway_id",
};

static void
assert_enrollment (GwRegistry               *reg,
                   const GwEnrollmentRecord *expected)
{
  const char *values[] = {
    expected->server_url, expected->pin_sha256, expected->user_id,
    expected->pn_id, expected->gateway_name, expected->gateway_id,
  };

  for (guint i = 0; i < G_N_ELEMENTS (enrollment_keys); i++)
    {
      g_autofree char *got = gw_registry_get_setting (reg, enrollment_keys[i]);

      g_assert_cmpstr (got, ==, values[i]);
    }
}

/* Another connection to the same file runs @sql (a trigger that makes a
 * write fail, or that drops it). */
static void
side_sql (const char *path,
          const char *sql)
{
  sqlite3 *db = NULL;
  char *msg = NULL;

  g_assert_cmpint (sqlite3_open (path, &db), ==, SQLITE_OK);
  sqlite3_busy_timeout (db, 5000);
  if (sqlite3_exec (db, sql, NULL, NULL, &msg) != SQLITE_OK)
    g_error ("%s: %s", sql, msg);
  sqlite3_close (db);
}

static const GwEnrollmentRecord first = {
  .server_url = "https://one.example:8443",
  .pin_sha256 = "sha256:0000000000000000000000000000000000000000000000000000000000000001",
  .user_id = "alice",
  .pn_id = "pn-00000000000000000000000000000001",
  .gateway_name = "Living room",
  .gateway_id = "gw-00000000000000000000000000000001",
};

static const GwEnrollmentRecord second = {
  .server_url = "https://two.example:8443",
  .pin_sha256 = NULL,                  /* no pin: the old one goes */
  .user_id = "bob",
  .pn_id = "pn-00000000000000000000000000000002",
  .gateway_name = "Office",
  .gateway_id = "gw-00000000000000000000000000000002",
};

static void
test_enrollment_saved (void)
{
  g_autofree char *path = registry_path ();
  g_autoptr(GwRegistry) reg = gw_registry_open (path, NULL);
  g_autoptr(GError) error = NULL;

  g_assert_true (gw_registry_save_enrollment (reg, &first, &error));
  g_assert_no_error (error);
  assert_enrollment (reg, &first);
  g_assert_true (gw_registry_save_enrollment (reg, &second, &error));
  g_assert_no_error (error);
  assert_enrollment (reg, &second);

  /* Committed: a new connection (a restart) reads the same. */
  g_clear_pointer (&reg, gw_registry_free);
  reg = gw_registry_open (path, &error);
  g_assert_no_error (error);
  assert_enrollment (reg, &second);
}

/* A write that fails in the middle (the fourth of six, pn_id, refused
 * by a trigger as a constraint would be) leaves no partial settings: a
 * first enrollment leaves none at all, a re-enrollment the old ones. */
static void
test_enrollment_fails_whole (void)
{
  g_autofree char *path = registry_path ();
  g_autoptr(GwRegistry) reg = gw_registry_open (path, NULL);
  g_autoptr(GError) error = NULL;
  const GwEnrollmentRecord none = { NULL };

  side_sql (path, "CREATE TRIGGER refuse_pn_id BEFORE INSERT ON settings "
                  "WHEN NEW.key = 'pn_id' BEGIN SELECT RAISE (ABORT, 'refused by the test'); END;");
  g_assert_false (gw_registry_save_enrollment (reg, &first, &error));
  g_assert_error (error, CPNS_ERROR, CPNS_ERROR_INTERNAL);
  g_assert_nonnull (strstr (error->message, "refused by the test"));
  g_clear_error (&error);
  assert_enrollment (reg, &none);

  /* The registry still works after the rollback. */
  side_sql (path, "DROP TRIGGER refuse_pn_id;");
  g_assert_true (gw_registry_save_enrollment (reg, &first, &error));
  g_assert_no_error (error);
  assert_enrollment (reg, &first);

  /* Re-enrollment: the fifth write fails; the first enrollment stays whole. */
  side_sql (path, "CREATE TRIGGER refuse_name BEFORE INSERT ON settings "
                  "WHEN NEW.key = 'gateway_name' BEGIN SELECT RAISE (ABORT, 'refused by the test'); END;");
  g_assert_false (gw_registry_save_enrollment (reg, &second, &error));
  g_assert_error (error, CPNS_ERROR, CPNS_ERROR_INTERNAL);
  g_clear_error (&error);
  assert_enrollment (reg, &first);
  g_clear_pointer (&reg, gw_registry_free);
  reg = gw_registry_open (path, &error);
  g_assert_no_error (error);
  assert_enrollment (reg, &first);
}

/* Another connection holds the write lock: BEGIN IMMEDIATE fails after
 * the busy timeout and nothing is written. */
static void
test_enrollment_locked (void)
{
  g_autofree char *path = registry_path ();
  g_autoptr(GwRegistry) reg = gw_registry_open (path, NULL);
  g_autoptr(GError) error = NULL;
  const GwEnrollmentRecord none = { NULL };
  sqlite3 *other = NULL;
  gint64 start;

  g_assert_cmpint (sqlite3_open (path, &other), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_exec (other, "BEGIN IMMEDIATE", NULL, NULL, NULL), ==, SQLITE_OK);
  start = g_get_monotonic_time ();
  g_assert_false (gw_registry_save_enrollment (reg, &first, &error));
  g_assert_error (error, CPNS_ERROR, CPNS_ERROR_INTERNAL);
  g_test_message ("locked registry refused after %" G_GINT64_FORMAT " ms",
                  (g_get_monotonic_time () - start) / 1000);
  g_clear_error (&error);
  g_assert_cmpint (sqlite3_exec (other, "ROLLBACK", NULL, NULL, NULL), ==, SQLITE_OK);
  sqlite3_close (other);
  assert_enrollment (reg, &none);
  g_assert_true (gw_registry_save_enrollment (reg, &first, &error));
  g_assert_no_error (error);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/gateway/registry/entities", test_entities);
  g_test_add_func ("/gateway/registry/steps", test_steps);
  g_test_add_func ("/gateway/registry/inventory-queue", test_inventory_queue_and_settings);
  g_test_add_func ("/gateway/registry/enrollment/saved", test_enrollment_saved);
  g_test_add_func ("/gateway/registry/enrollment/fails-whole", test_enrollment_fails_whole);
  g_test_add_func ("/gateway/registry/enrollment/locked", test_enrollment_locked);
  return g_test_run ();
}
