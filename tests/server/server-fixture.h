/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "cpns-crypto.h"

G_BEGIN_DECLS

/* A real `cpns-server serve` on a free loopback port, with its own data
 * dir, driven over HTTPS by a SoupSession that trusts it by pin. */
typedef struct
{
  char        *data_dir;
  char        *pin;          /* hex, no prefix */
  char        *base_url;     /* https://127.0.0.1:PORT */
  char        *timings;      /* CPNS_SERVER_TEST_TIMINGS or NULL */
  GSubprocess *process;
  SoupSession *session;
} ServerFixture;

/* Creates the data dir with `init` (not yet serving). */
ServerFixture *server_fixture_new        (const char    *timings);
void           server_fixture_start      (ServerFixture *fixture);
/* SIGKILL, wait. */
void           server_fixture_kill       (ServerFixture *fixture);
void           server_fixture_free       (ServerFixture *fixture);

/* Runs `cpns-server ARGS… --data-dir DIR` and returns its stdout (parsed
 * as JSON when it starts with '{' or '['), asserting the exit status. */
char          *server_fixture_cli        (ServerFixture *fixture,
                                          int            expected_status,
                                          const char    *first_arg,
                                          ...) G_GNUC_NULL_TERMINATED;
JsonNode      *server_fixture_cli_json   (ServerFixture *fixture,
                                          const char    *first_arg,
                                          ...) G_GNUC_NULL_TERMINATED;

/* One request. @body may be NULL; @token may be NULL. Returns the status;
 * *@out_json is the parsed body (or NULL). */
guint          server_fixture_request    (ServerFixture *fixture,
                                          const char    *method,
                                          const char    *path,
                                          const char    *token,
                                          const char    *body,
                                          JsonObject   **out_json);
/* Same with a JsonObject body. */
guint          server_fixture_request_obj (ServerFixture *fixture,
                                          const char    *method,
                                          const char    *path,
                                          const char    *token,
                                          JsonObject    *body,
                                          JsonObject   **out_json);
/* Asserts that @answer decodes with libcpns as schema @kind. */
void           server_assert_schema      (JsonObject    *answer,
                                          const char    *kind);
/* Asserts an error answer of §2: status and code (and its schema). */
void           server_assert_error       (guint          status,
                                          JsonObject    *answer,
                                          guint          expected_status,
                                          const char    *expected_code);

/* Accept the server certificate when its SHA-256 is @pin. */
void           server_fixture_pin_message (ServerFixture *fixture,
                                          SoupMessage   *msg);

/* A gateway enrolled and in session, as a PN GW would do step 1. */
typedef struct
{
  char   *user_id;
  char   *gateway_id;
  char   *pn_id;
  guint8  secret[CPNS_KEY_LEN];
  char   *token;
} TestGateway;

TestGateway   *test_gateway_enroll       (ServerFixture *fixture,
                                          const char    *user_id);
/* Step 1: challenge, proofs both ways, token. */
void           test_gateway_open_session (ServerFixture *fixture,
                                          TestGateway   *gateway);
void           test_gateway_free         (TestGateway   *gateway);

/* A PNE registered through @gateway (server key assignment) and confirmed. */
typedef struct
{
  char   *pne_id;
  char   *key_id;
  guint8  euk[CPNS_KEY_LEN];
} TestPne;

TestPne       *test_pne_register         (ServerFixture *fixture,
                                          TestGateway   *gateway,
                                          const char    *entity_type,
                                          gboolean       confirm);
void           test_pne_free             (TestPne       *pne);

/* Helpers */
char          *test_b64                  (const guint8  *data,
                                          gsize          len);
void           test_get_bytes            (JsonObject    *object,
                                          const char    *member,
                                          guint8        *out,
                                          gsize          len);
JsonObject    *test_json_object          (const char    *text);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TestGateway, test_gateway_free)

G_END_DECLS
