/* SPDX-License-Identifier: GPL-3.0-or-later */
/* ThreadSanitizer happens-before edges for GLib's thread hand-overs.
 *
 * Debian's GLib, GObject and GIO are not built with -fsanitize=thread, and
 * their GMutex, GCond, GOnce, GMainContext and GTask synchronise with
 * futexes and atomics that TSan does not see. Without help, every object
 * handed from one thread to another through GLib (an engine event, a
 * command, a GTask's data) is reported as a race.
 *
 * This library, preloaded (LD_PRELOAD) into the processes of the TSan test
 * run, wraps the GLib calls our code makes to hand data over and tells TSan
 * about the ordering GLib really provides: a release when a thread hands
 * something over, the matching acquire where the other thread picks it up.
 * It adds no ordering that GLib does not give, so a real race (an access
 * after the hand-over, an access outside the lock) is still reported: the
 * negative control test-tsan-control checks that.
 *
 * It is built without the sanitizer and links only libc, so it is harmless
 * in the other processes of the run (meson, bash, dbus-daemon,
 * gnome-keyring-daemon): where the TSan runtime is absent, every wrapper
 * only forwards to GLib. */

#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>

#include <gio/gio.h>

/* ------------------------------------------------------------------ */
/* Lookups */

typedef void (*AnnotateFunc) (void *addr);

static AnnotateFunc tsan_acquire_fn;
static AnnotateFunc tsan_release_fn;
static int tsan_state;          /* 0: not looked up, 1: present, 2: absent */

static int
tsan_present (void)
{
  int state = __atomic_load_n (&tsan_state, __ATOMIC_ACQUIRE);

  if (state == 0)
    {
      AnnotateFunc acq = (AnnotateFunc) dlsym (RTLD_DEFAULT, "__tsan_acquire");
      AnnotateFunc rel = (AnnotateFunc) dlsym (RTLD_DEFAULT, "__tsan_release");

      __atomic_store_n (&tsan_acquire_fn, acq, __ATOMIC_RELAXED);
      __atomic_store_n (&tsan_release_fn, rel, __ATOMIC_RELAXED);
      state = (acq && rel) ? 1 : 2;
      __atomic_store_n (&tsan_state, state, __ATOMIC_RELEASE);
    }
  return state == 1;
}

static void
hb_release (const void *addr)
{
  if (tsan_present ())
    tsan_release_fn ((void *) addr);
}

static void
hb_acquire (const void *addr)
{
  if (tsan_present ())
    tsan_acquire_fn ((void *) addr);
}

/* The next definition of NAME after this library (GLib's). */
#define REAL(name) \
  static __typeof__ (name) *real_##name; \
  if (real_##name == NULL) \
    real_##name = (__typeof__ (name) *) dlsym (RTLD_NEXT, #name)

/* ------------------------------------------------------------------ */
/* GMutex and GCond (futexes): release before unlocking, acquire after
 * locking (g_cond_wait unlocks and relocks inside GLib). GRecMutex is a
 * pthread mutex, which TSan sees already. */

void
g_mutex_lock (GMutex *mutex)
{
  REAL (g_mutex_lock);
  real_g_mutex_lock (mutex);
  hb_acquire (mutex);
}

gboolean
g_mutex_trylock (GMutex *mutex)
{
  gboolean locked;

  REAL (g_mutex_trylock);
  locked = real_g_mutex_trylock (mutex);
  if (locked)
    hb_acquire (mutex);
  return locked;
}

void
g_mutex_unlock (GMutex *mutex)
{
  REAL (g_mutex_unlock);
  hb_release (mutex);
  real_g_mutex_unlock (mutex);
}

void
g_cond_wait (GCond  *cond,
             GMutex *mutex)
{
  REAL (g_cond_wait);
  hb_release (mutex);
  real_g_cond_wait (cond, mutex);
  hb_acquire (mutex);
}

gboolean
g_cond_wait_until (GCond  *cond,
                   GMutex *mutex,
                   gint64  end_time)
{
  gboolean signalled;

  REAL (g_cond_wait_until);
  hb_release (mutex);
  signalled = real_g_cond_wait_until (cond, mutex, end_time);
  hb_acquire (mutex);
  return signalled;
}

/* ------------------------------------------------------------------ */
/* GOnce: the g_once_init_enter() macro's fast path is an (instrumented)
 * atomic load of LOCATION in our code; the store that publishes it is in
 * GLib. */

gboolean
(g_once_init_enter) (volatile void *location)
{
  gboolean enter;

  REAL (g_once_init_enter);
  enter = real_g_once_init_enter (location);
  if (!enter)
    hb_acquire ((const void *) location);
  return enter;
}

void
(g_once_init_leave) (volatile void *location,
                     gsize          result)
{
  REAL (g_once_init_leave);
  hb_release ((const void *) location);
  real_g_once_init_leave (location, result);
}

/* ------------------------------------------------------------------ */
/* Callbacks queued on a GMainContext (possibly another thread's): what the
 * caller did before queueing happens before the callback and its destroy
 * notify. The source's user data becomes a Handover, so
 * g_idle_remove_by_data() and g_source_remove_by_user_data() would not find
 * these sources (our code does not use them on idles). */

typedef struct
{
  GSourceFunc    func;
  gpointer       data;
  GDestroyNotify notify;
} Handover;

static Handover *
handover_new (GSourceFunc    func,
              gpointer       data,
              GDestroyNotify notify)
{
  Handover *h = malloc (sizeof *h);

  if (h == NULL)
    abort ();
  h->func = func;
  h->data = data;
  h->notify = notify;
  hb_release (h);
  return h;
}

static gboolean
handover_dispatch (gpointer data)
{
  Handover *h = data;
  gboolean again;

  hb_acquire (h);
  again = h->func (h->data);
  /* For the destroy notify, which may run on yet another thread. */
  hb_release (h);
  return again;
}

static void
handover_free (gpointer data)
{
  Handover *h = data;

  hb_acquire (h);
  if (h->notify)
    h->notify (h->data);
  free (h);
}

void
g_main_context_invoke_full (GMainContext  *context,
                            gint           priority,
                            GSourceFunc    function,
                            gpointer       data,
                            GDestroyNotify notify)
{
  REAL (g_main_context_invoke_full);
  if (!tsan_present () || function == NULL)
    {
      real_g_main_context_invoke_full (context, priority, function, data, notify);
      return;
    }
  real_g_main_context_invoke_full (context, priority, handover_dispatch,
                                   handover_new (function, data, notify), handover_free);
}

void
g_main_context_invoke (GMainContext *context,
                       GSourceFunc   function,
                       gpointer      data)
{
  g_main_context_invoke_full (context, G_PRIORITY_DEFAULT, function, data, NULL);
}

guint
g_idle_add_full (gint           priority,
                 GSourceFunc    function,
                 gpointer       data,
                 GDestroyNotify notify)
{
  REAL (g_idle_add_full);
  if (!tsan_present () || function == NULL)
    return real_g_idle_add_full (priority, function, data, notify);
  return real_g_idle_add_full (priority, handover_dispatch,
                               handover_new (function, data, notify), handover_free);
}

guint
g_idle_add (GSourceFunc function,
            gpointer    data)
{
  return g_idle_add_full (G_PRIORITY_DEFAULT_IDLE, function, data, NULL);
}

/* ------------------------------------------------------------------ */
/* GTask: what the caller did before g_task_run_in_thread() happens before
 * the worker; what the worker did before returning a result happens before
 * whoever propagates it. */

static GQuark
task_func_quark (void)
{
  static GQuark quark;
  typedef GQuark (*QuarkFunc) (const char *);

  if (quark == 0)
    quark = ((QuarkFunc) dlsym (RTLD_DEFAULT, "g_quark_from_static_string")) ("cpns-tsan-task-func");
  return quark;
}

static void
task_worker (GTask        *task,
             gpointer      source_object,
             gpointer      task_data,
             GCancellable *cancellable)
{
  typedef gpointer (*GetQdata) (GObject *, GQuark);
  GetQdata get_qdata = (GetQdata) dlsym (RTLD_DEFAULT, "g_object_get_qdata");
  GTaskThreadFunc func;

  hb_acquire (task);
  func = (GTaskThreadFunc) get_qdata (G_OBJECT (task), task_func_quark ());
  func (task, source_object, task_data, cancellable);
  hb_release (task);
}

static void
task_set_func (GTask          *task,
               GTaskThreadFunc func)
{
  typedef void (*SetQdata) (GObject *, GQuark, gpointer);
  SetQdata set_qdata = (SetQdata) dlsym (RTLD_DEFAULT, "g_object_set_qdata");

  set_qdata (G_OBJECT (task), task_func_quark (), (gpointer) func);
  hb_release (task);
}

void
g_task_run_in_thread (GTask          *task,
                      GTaskThreadFunc task_func)
{
  REAL (g_task_run_in_thread);
  if (!tsan_present ())
    {
      real_g_task_run_in_thread (task, task_func);
      return;
    }
  task_set_func (task, task_func);
  real_g_task_run_in_thread (task, task_worker);
}

void
g_task_run_in_thread_sync (GTask          *task,
                           GTaskThreadFunc task_func)
{
  REAL (g_task_run_in_thread_sync);
  if (!tsan_present ())
    {
      real_g_task_run_in_thread_sync (task, task_func);
      return;
    }
  task_set_func (task, task_func);
  real_g_task_run_in_thread_sync (task, task_worker);
  hb_acquire (task);
}

void
g_task_return_boolean (GTask   *task,
                       gboolean result)
{
  REAL (g_task_return_boolean);
  hb_release (task);
  real_g_task_return_boolean (task, result);
}

void
g_task_return_int (GTask *task,
                   gssize result)
{
  REAL (g_task_return_int);
  hb_release (task);
  real_g_task_return_int (task, result);
}

void
g_task_return_pointer (GTask         *task,
                       gpointer       result,
                       GDestroyNotify result_destroy)
{
  REAL (g_task_return_pointer);
  hb_release (task);
  real_g_task_return_pointer (task, result, result_destroy);
}

void
g_task_return_error (GTask  *task,
                     GError *error)
{
  REAL (g_task_return_error);
  hb_release (task);
  real_g_task_return_error (task, error);
}

gboolean
g_task_propagate_boolean (GTask   *task,
                          GError **error)
{
  REAL (g_task_propagate_boolean);
  hb_acquire (task);
  return real_g_task_propagate_boolean (task, error);
}

gssize
g_task_propagate_int (GTask   *task,
                      GError **error)
{
  REAL (g_task_propagate_int);
  hb_acquire (task);
  return real_g_task_propagate_int (task, error);
}

gpointer
g_task_propagate_pointer (GTask   *task,
                          GError **error)
{
  REAL (g_task_propagate_pointer);
  hb_acquire (task);
  return real_g_task_propagate_pointer (task, error);
}

/* ------------------------------------------------------------------ */
/* GObject references: the atomic reference count lives in GObject. Every
 * unref releases; the one that drops the last reference acquires before
 * the object (and, for a GTask, its task data) is finalised, as for any
 * reference-counted hand-over. */

void
g_object_unref (gpointer object)
{
  REAL (g_object_unref);
  if (object != NULL && tsan_present ())
    {
      hb_release (object);
      if (__atomic_load_n (&((GObject *) object)->ref_count, __ATOMIC_ACQUIRE) == 1)
        hb_acquire (object);
    }
  real_g_object_unref (object);
}
