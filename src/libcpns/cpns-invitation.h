/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* cpns://enroll?server=…&user=…&code=XXXX-XXXX-XXXX-XXXX[&pin=sha256:<hex>]
 * (PROTOCOL.md §5.1). Parsing validates every part: server is an https URL,
 * user a valid user_id, code 16 base32 characters in 4 groups, pin 64 hex
 * digits. The code is a secret: the struct wipes it when freed. */
typedef struct
{
  char *server_url;   /* "https://host:7443" */
  char *user_id;
  char *code;         /* secret */
  char *pin_sha256;   /* lowercase hex, or NULL */
} CpnsInvitation;

CpnsInvitation *cpns_invitation_parse   (const char     *uri,
                                         GError        **error);
char           *cpns_invitation_to_uri  (const CpnsInvitation *invitation);
/* Zeroes the code in place (free does it too); for callers done with it. */
void            cpns_invitation_wipe    (CpnsInvitation *invitation);
void            cpns_invitation_free    (CpnsInvitation *invitation);

/* The invitation on the first line of the file @path ("-": standard input,
 * read no further than that line, so the rest stays for its next reader),
 * without surrounding blanks, checked with cpns_invitation_parse(). For
 * --enroll-file: an invitation in argv is readable by every user (ps).
 * Returns a secret: free it with cpns_free_secret_string(). The messages
 * name the file ("standard input" for "-"), never a byte of its contents:
 * G_FILE_ERROR when it cannot be opened or read (a directory, …),
 * CPNS_ERROR_BAD_REQUEST when its first line is blank, longer than any
 * invitation or not an invitation. */
char           *cpns_invitation_read_file (const char   *path,
                                           GError      **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CpnsInvitation, cpns_invitation_free)

G_END_DECLS
