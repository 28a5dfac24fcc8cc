/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "cpns-crypto.h"

G_BEGIN_DECLS

/*
 * PneCredentials: what a PNE keeps after pairing (PROTOCOL.md §6): its IDs,
 * its EUK, the gateway it paired with (ID, certificate pin, address) and the
 * current session (ID, key, expiry) for resuming (§4.6).
 *
 * The file is "credentials" in the PNE's state directory, mode 0600, a
 * plain "key=value" text file. It is written atomically and durably: a
 * temporary file in the same directory, fsync, rename, fsync of the
 * directory. During pairing the credentials are first written to
 * "credentials.pending" (before key_assignment_response, §4.4 item 6) and
 * only renamed to "credentials" when pairing_complete arrives; a pending
 * file found later is a partial pairing and is deleted, never used.
 */
typedef struct
{
  char   *pn_id;
  char   *pne_id;
  char   *key_id;
  guint8  euk[CPNS_KEY_LEN];             /* secret */
  char   *gateway_id;
  char   *gateway_name;                  /* may be NULL */
  char   *gateway_sha256;                /* the pinned cert_sha256 */
  char   *gateway_address;               /* "host:port" */
  char   *name;                          /* this PNE's descriptor */
  char   *entity_type;
  char  **services;                      /* "name:proto[:port]", may be NULL */
  /* The current session; session_id NULL when there is none. */
  char   *session_id;
  guint8  session_key[CPNS_KEY_LEN];     /* secret */
  gint64  session_expires;               /* Unix seconds */
} PneCredentials;

#define PNE_CREDENTIALS_FILE         "credentials"
#define PNE_CREDENTIALS_PENDING_FILE "credentials.pending"

typedef enum
{
  PNE_CREDENTIALS_SAVE_DEFAULT = 0,
  PNE_CREDENTIALS_SAVE_PENDING = 1 << 0,          /* write credentials.pending */
  /* Tests only: write and fsync the temporary file, then stop as if the
   * process died before the rename (the temporary file stays behind). */
  PNE_CREDENTIALS_SAVE_CRASH_BEFORE_RENAME = 1 << 1,
} PneCredentialsSaveFlags;

PneCredentials *pne_credentials_new             (void);
PneCredentials *pne_credentials_copy            (const PneCredentials *creds);
/* Wipes the secrets, then frees. */
void            pne_credentials_free            (PneCredentials *creds);

/* Drops the session (wiping its key). */
void            pne_credentials_clear_session   (PneCredentials *creds);
/* TRUE when a session exists and @now (Unix seconds) is before its expiry. */
gboolean        pne_credentials_has_live_session (const PneCredentials *creds,
                                                  gint64                now);

/* Creates @state_dir (mode 0700) when it does not exist. */
gboolean        pne_credentials_ensure_dir      (const char      *state_dir,
                                                 GError         **error);

/* Loads @state_dir/credentials. A missing file is G_IO_ERROR_NOT_FOUND; a
 * file that does not parse or misses a field is G_IO_ERROR_INVALID_DATA
 * with a message naming the file and the line or field. A leftover
 * credentials.pending or temporary file is removed. */
PneCredentials *pne_credentials_load            (const char      *state_dir,
                                                 GError         **error);
gboolean        pne_credentials_save            (const PneCredentials *creds,
                                                 const char      *state_dir,
                                                 PneCredentialsSaveFlags flags,
                                                 GError         **error);
/* Renames credentials.pending to credentials (atomically, durably). */
gboolean        pne_credentials_commit_pending  (const char      *state_dir,
                                                 GError         **error);
/* Removes credentials.pending (if any). */
void            pne_credentials_discard_pending (const char      *state_dir);
/* Removes the credentials file (and a pending one). Not an error when
 * there is none. */
gboolean        pne_credentials_delete          (const char      *state_dir,
                                                 GError         **error);

/* The same, on a worker thread (durable writes block for milliseconds;
 * a simulator with a thousand devices on one main loop cannot afford
 * that). @creds is copied. */
void            pne_credentials_save_async      (const PneCredentials *creds,
                                                 const char      *state_dir,
                                                 PneCredentialsSaveFlags flags,
                                                 GCancellable    *cancellable,
                                                 GAsyncReadyCallback callback,
                                                 gpointer         user_data);
gboolean        pne_credentials_save_finish     (GAsyncResult    *result,
                                                 GError         **error);
void            pne_credentials_commit_pending_async (const char *state_dir,
                                                 GCancellable    *cancellable,
                                                 GAsyncReadyCallback callback,
                                                 gpointer         user_data);
gboolean        pne_credentials_commit_pending_finish (GAsyncResult *result,
                                                 GError         **error);

/* Parsing of the text format, for the loader and tests. */
PneCredentials *pne_credentials_parse           (const char      *text,
                                                 gsize            len,
                                                 const char      *origin,
                                                 GError         **error);
/* The file's text (a secret: free with cpns_free_secret_string()). */
char           *pne_credentials_serialize       (const PneCredentials *creds);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PneCredentials, pne_credentials_free)

G_END_DECLS
