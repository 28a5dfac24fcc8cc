/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Negative control of the ThreadSanitizer run (suite `tsan-control`, built
 * only with -Db_sanitize=thread).
 *
 * The TSan run of ./tools/test uses tools/tsan-suppressions.txt and
 * preloads tests/tsan/tsan-glib-sync.c. This test runs itself again as a
 * child in exactly that set-up, once per case below, and checks that:
 *
 * - deliberate data races on a plain int in our code are reported, also
 *   when one side runs in a callback dispatched by GLib on another thread
 *   (the shape of the engine's event and command hand-overs) and when the
 *   other side holds a GMutex: the suppressions and the preloaded
 *   happens-before edges do not hide them;
 * - the same accesses correctly ordered by GLib (a value written before
 *   g_main_context_invoke_full() and read in the callback; both sides under
 *   one GMutex) are not reported: the hand-overs need no suppression. */

#include <string.h>
#include <sys/wait.h>

#include <glib.h>

typedef struct
{
  int           value;          /* the plain int the cases race on */
  int           seen;
  GMutex        lock;
  GMainContext *context;
  GMainLoop    *loop;
} Shared;

/* ------------------------------------------------------------------ */
/* The racy (and the correct) programs, run in the child */

static G_GNUC_NO_INLINE void
control_plain_increment (Shared *s)
{
  s->value++;
}

static gpointer
plain_thread (gpointer data)
{
  for (int i = 0; i < 1000; i++)
    control_plain_increment (data);
  return NULL;
}

/* Two threads increment the same int with no synchronisation at all. */
static void
run_plain (Shared *s)
{
  GThread *a = g_thread_new ("control-a", plain_thread, s);
  GThread *b = g_thread_new ("control-b", plain_thread, s);

  g_thread_join (a);
  g_thread_join (b);
}

static gpointer
context_thread (gpointer data)
{
  Shared *s = data;

  g_main_context_push_thread_default (s->context);
  g_main_loop_run (s->loop);
  g_main_context_pop_thread_default (s->context);
  return NULL;
}

static G_GNUC_NO_INLINE gboolean
control_handover_read (gpointer data)
{
  Shared *s = data;

  s->seen = s->value;
  g_main_loop_quit (s->loop);
  return G_SOURCE_REMOVE;
}

static G_GNUC_NO_INLINE void
control_handover_write (Shared *s,
                        int     value)
{
  s->value = value;
}

/* The engine's pattern: a value handed to another thread's main context
 * with g_main_context_invoke_full(). LATE: written again after the
 * hand-over, which is a race with the callback's read. */
static void
run_handover (Shared  *s,
              gboolean late)
{
  GThread *thread;

  s->context = g_main_context_new ();
  s->loop = g_main_loop_new (s->context, FALSE);
  thread = g_thread_new ("control-context", context_thread, s);
  control_handover_write (s, 1);
  g_main_context_invoke_full (s->context, G_PRIORITY_DEFAULT, control_handover_read, s, NULL);
  if (late)
    control_handover_write (s, 2);
  g_thread_join (thread);
  g_main_loop_unref (s->loop);
  g_main_context_unref (s->context);
  g_assert_cmpint (s->seen, >=, 1);
}

static G_GNUC_NO_INLINE void
control_locked_increment (Shared *s)
{
  g_mutex_lock (&s->lock);
  s->value++;
  g_mutex_unlock (&s->lock);
}

static G_GNUC_NO_INLINE void
control_unlocked_write (Shared *s)
{
  s->value = 5;
}

static gpointer
locked_thread (gpointer data)
{
  for (int i = 0; i < 1000; i++)
    control_locked_increment (data);
  return NULL;
}

/* One thread increments under a GMutex; the other writes with (LOCKED) or
 * without the lock. */
static void
run_lock (Shared  *s,
          gboolean locked)
{
  GThread *thread = g_thread_new ("control-locked", locked_thread, s);

  for (int i = 0; i < 1000; i++)
    {
      if (locked)
        control_locked_increment (s);
      else
        control_unlocked_write (s);
    }
  g_thread_join (thread);
}

static int
run_case (const char *name)
{
  Shared s = { 0 };

  g_mutex_init (&s.lock);
  if (g_str_equal (name, "plain"))
    run_plain (&s);
  else if (g_str_equal (name, "handover-late"))
    run_handover (&s, TRUE);
  else if (g_str_equal (name, "handover"))
    run_handover (&s, FALSE);
  else if (g_str_equal (name, "unlocked"))
    run_lock (&s, FALSE);
  else if (g_str_equal (name, "locked"))
    run_lock (&s, TRUE);
  else
    return 2;
  g_mutex_clear (&s.lock);
  return 0;
}

/* ------------------------------------------------------------------ */
/* The checks, in the parent */

typedef struct
{
  int   status;
  char *output;
} Child;

static void
child_clear (Child *child)
{
  g_free (child->output);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Child, child_clear)

/* Runs this program as "--race NAME" under the suppressions and the
 * preloaded hand-over edges of the TSan run. */
static void
run_child (const char *name,
           Child      *child)
{
  const char *source_root = g_getenv ("CPNS_SOURCE_ROOT");
  const char *build_root = g_getenv ("CPNS_BUILD_ROOT");
  g_autofree char *self = g_file_read_link ("/proc/self/exe", NULL);
  g_autofree char *supp = NULL;
  g_autofree char *preload = NULL;
  g_autofree char *options = NULL;
  g_auto(GStrv) env = g_get_environ ();
  g_autoptr(GError) error = NULL;
  const char *argv[] = { self, "--race", name, NULL };
  int wait_status = 0;

  g_assert_nonnull (source_root);
  g_assert_nonnull (build_root);
  g_assert_nonnull (self);
  supp = g_build_filename (source_root, "tools", "tsan-suppressions.txt", NULL);
  preload = g_build_filename (build_root, "tests", "tsan", "libcpns-tsan-glib-sync.so", NULL);
  g_assert_true (g_file_test (supp, G_FILE_TEST_IS_REGULAR));
  g_assert_true (g_file_test (preload, G_FILE_TEST_IS_REGULAR));
  options = g_strdup_printf ("suppressions=%s halt_on_error=0 exitcode=66 log_path=stderr", supp);
  env = g_environ_setenv (env, "TSAN_OPTIONS", options, TRUE);
  env = g_environ_setenv (env, "LD_PRELOAD", preload, TRUE);
  env = g_environ_setenv (env, "G_SLICE", "always-malloc", TRUE);

  g_spawn_sync (NULL, (char **) argv, env, G_SPAWN_DEFAULT, NULL, NULL,
                NULL, &child->output, &wait_status, &error);
  g_assert_no_error (error);
  g_assert_true (WIFEXITED (wait_status));
  child->status = WEXITSTATUS (wait_status);
}

static guint
count (const char *haystack,
       const char *needle)
{
  guint n = 0;

  for (const char *p = strstr (haystack, needle); p; p = strstr (p + 1, needle))
    n++;
  return n;
}

static void
expect_race (const char *name,
             const char *function)
{
  g_auto(Child) child = { 0 };

  run_child (name, &child);
  g_test_message ("case %s: exit %d, %u report(s)", name, child.status,
                  count (child.output, "WARNING: ThreadSanitizer: data race"));
  g_assert_cmpint (child.status, ==, 66);
  g_assert_cmpuint (count (child.output, "WARNING: ThreadSanitizer: data race"), >=, 1);
  g_assert_nonnull (strstr (child.output, function));
}

static void
expect_clean (const char *name)
{
  g_auto(Child) child = { 0 };

  run_child (name, &child);
  if (child.status != 0)
    g_test_message ("%s", child.output);
  g_assert_cmpint (child.status, ==, 0);
  g_assert_null (strstr (child.output, "ThreadSanitizer"));
}

static void
test_plain_race (void)
{
  expect_race ("plain", "control_plain_increment");
}

static void
test_race_after_handover (void)
{
  expect_race ("handover-late", "control_handover_read");
}

static void
test_race_outside_lock (void)
{
  expect_race ("unlocked", "control_unlocked_write");
}

static void
test_handover_ordered (void)
{
  expect_clean ("handover");
}

static void
test_lock_ordered (void)
{
  expect_clean ("locked");
}

int
main (int   argc,
      char *argv[])
{
  if (argc == 3 && g_str_equal (argv[1], "--race"))
    return run_case (argv[2]);

  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/tsan-control/plain-race", test_plain_race);
  g_test_add_func ("/tsan-control/race-after-handover", test_race_after_handover);
  g_test_add_func ("/tsan-control/race-outside-lock", test_race_outside_lock);
  g_test_add_func ("/tsan-control/handover-ordered", test_handover_ordered);
  g_test_add_func ("/tsan-control/lock-ordered", test_lock_ordered);
  return g_test_run ();
}
