/* SPDX-License-Identifier: GPL-3.0-or-later */
/* One valid example of every message kind of cpns-message.h, shared by
 * test-message.c and the fuzz corpus replay. */
#pragma once

#define S_PN   "\"pn-0123456789abcdef0123456789abcdef\""
#define S_GW   "\"gw-00112233445566778899aabbccddeeff\""
#define S_PNE  "\"pne-ffeeddccbbaa99887766554433221100\""
#define S_KEY  "\"key-0123456789abcdef\""
#define S_SES  "\"ses-0123456789abcdef0123456789abcdef\""
#define S_AUTH "\"auth-0123456789abcdef0123456789abcdef\""
#define S_CHL  "\"chl-0123456789abcdef0123456789abcdef\""
#define S_RULE "\"rule-0123456789abcdef0123456789abcdef\""
#define S_N16a "\"AQgPFh0kKzI5QEdOVVxjag\""
#define S_N16b "\"AgkQFx4lLDM6QUhPVl1kaw\""
#define S_K32a "\"AwoRGB8mLTQ7QklQV15lbHN6gYiPlp2kq7K5wMfO1dw\""
#define S_K32b "\"BAsSGSAnLjU8Q0pRWF9mbXR7gomQl56lrLO6wcjP1t0\""
#define S_SHA  "\"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\""
#define S_TIME "\"2026-11-30T18:00:00Z\""
#define S_ENTITY \
  "{\"name\":\"Kitchen sensor\",\"entity_type\":\"sensor\",\"manufacturer\":\"Acme\"," \
  "\"model\":\"T-1\",\"serial\":\"0042\",\"services\":[{\"name\":\"temperature\"," \
  "\"protocol\":\"coap\",\"port\":5683},{\"name\":\"humidity\",\"protocol\":\"mqtt\"}]}"

typedef struct
{
  const char *kind;
  const char *json;
} MessageSample;

static const MessageSample message_samples[] = {
  { "error", "{\"v\":1,\"type\":\"error\",\"code\":\"locked_out\",\"message\":\"too many failures\",\"retry_after\":300}" },
  { "ping", "{\"v\":1,\"type\":\"ping\"}" },
  { "pong", "{\"v\":1,\"type\":\"pong\"}" },
  { "bye", "{\"v\":1,\"type\":\"bye\",\"reason\":\"shutting down\"}" },
  { "pairing_request", "{\"v\":1,\"type\":\"pairing_request\",\"entity\":" S_ENTITY ",\"has_credentials\":true,\"pne_id\":" S_PNE ",\"pn_id\":" S_PN ",\"key_id\":" S_KEY "}" },
  { "pairing_commit", "{\"v\":1,\"type\":\"pairing_commit\",\"commitment\":" S_K32a "}" },
  { "pairing_nonce", "{\"v\":1,\"type\":\"pairing_nonce\",\"n_p\":" S_N16a "}" },
  { "pairing_reveal", "{\"v\":1,\"type\":\"pairing_reveal\",\"n_g\":" S_N16b "}" },
  { "pairing_response", "{\"v\":1,\"type\":\"pairing_response\",\"result\":\"accepted\",\"gateway_id\":" S_GW ",\"pn_id\":" S_PN ",\"name\":\"Living room\",\"cert_sha256\":" S_SHA ",\"credentials_accepted\":false}" },
  { "pne_id_request", "{\"v\":1,\"type\":\"pne_id_request\"}" },
  { "pne_id_response", "{\"v\":1,\"type\":\"pne_id_response\",\"pne_id\":" S_PNE ",\"pn_id\":" S_PN "}" },
  { "key_assignment_request", "{\"v\":1,\"type\":\"key_assignment_request\",\"pne_id\":" S_PNE ",\"key_id\":" S_KEY ",\"euk\":" S_K32b ",\"mode\":\"server\",\"issued_at\":" S_TIME "}" },
  { "key_assignment_response", "{\"v\":1,\"type\":\"key_assignment_response\",\"key_id\":" S_KEY ",\"key_confirm\":" S_K32a "}" },
  { "pairing_complete", "{\"v\":1,\"type\":\"pairing_complete\",\"pne_id\":" S_PNE ",\"pn_id\":" S_PN ",\"gateway_id\":" S_GW "}" },
  { "connection_setup_request", "{\"v\":1,\"type\":\"connection_setup_request\",\"pne_id\":" S_PNE ",\"pn_id\":" S_PN ",\"nonce_p\":" S_N16a ",\"requested_services\":[\"temperature\"]}" },
  { "auth_challenge", "{\"v\":1,\"type\":\"auth_challenge\",\"auth_id\":" S_AUTH ",\"gateway_id\":" S_GW ",\"nonce_s\":" S_N16b ",\"server_proof\":" S_K32a "}" },
  { "auth_response", "{\"v\":1,\"type\":\"auth_response\",\"auth_id\":" S_AUTH ",\"pne_proof\":" S_K32b "}" },
  { "authorization_pending", "{\"v\":1,\"type\":\"authorization_pending\",\"reason\":\"awaiting_user_approval\",\"expires_at\":" S_TIME "}" },
  { "authorization_result", "{\"v\":1,\"type\":\"authorization_result\",\"decision\":\"allow\",\"session_id\":" S_SES ",\"expires_at\":" S_TIME ",\"granted_services\":[\"temperature\",\"humidity\"]}" },
  { "session_key_confirm", "{\"v\":1,\"type\":\"session_key_confirm\",\"mac\":" S_K32a "}" },
  { "session_key_confirm_ack", "{\"v\":1,\"type\":\"session_key_confirm_ack\",\"mac\":" S_K32b "}" },
  { "connection_setup_complete", "{\"v\":1,\"type\":\"connection_setup_complete\",\"session_id\":" S_SES ",\"pn_id\":" S_PN ",\"expires_at\":\"2026-12-01T18:00:00+01:00\",\"granted_services\":[]}" },
  { "session_resume_request", "{\"v\":1,\"type\":\"session_resume_request\",\"pne_id\":" S_PNE ",\"session_id\":" S_SES "}" },
  { "entity_discovery_request", "{\"v\":1,\"type\":\"entity_discovery_request\",\"mode\":\"pne\",\"name\":\"Kitchen sensor\",\"entity_type\":\"sensor\",\"nonce\":" S_N16a "}" },
  { "entity_discovery_response", "{\"v\":1,\"type\":\"entity_discovery_response\",\"mode\":\"pn_gw\",\"gateway_id\":" S_GW ",\"pn_id\":" S_PN ",\"name\":\"Living room\",\"port\":7471,\"cert_sha256\":" S_SHA ",\"pairing_open\":true}" },
  { "api.gateways.request", "{\"user_id\":\"alice\",\"enrollment_code\":\"ABCD-EFGH-2345-67QR\",\"gateway_name\":\"Laptop\"}" },
  { "api.gateways.response", "{\"gateway_id\":" S_GW ",\"gateway_secret\":" S_K32a ",\"pn_id\":" S_PN ",\"user_id\":\"alice\"}" },
  { "api.session_challenge.request", "{\"gateway_id\":" S_GW "}" },
  { "api.session_challenge.response", "{\"challenge_id\":" S_CHL ",\"nonce_s\":" S_N16a ",\"expires_at\":" S_TIME "}" },
  { "api.session.request", "{\"gateway_id\":" S_GW ",\"challenge_id\":" S_CHL ",\"nonce_g\":" S_N16b ",\"proof\":" S_K32a "}" },
  { "api.session.response", "{\"session_token\":" S_K32b ",\"expires_at\":" S_TIME ",\"pn_id\":" S_PN ",\"user_id\":\"alice\",\"server_proof\":" S_K32a "}" },
  { "api.entities.request", "{\"pne_id\":" S_PNE ",\"entity\":" S_ENTITY ",\"key_assignment\":\"gateway\",\"euk\":" S_K32a ",\"key_id\":" S_KEY "}" },
  { "api.entities.response", "{\"pne_id\":" S_PNE ",\"key_id\":" S_KEY ",\"euk\":" S_K32b ",\"state\":\"pending\"}" },
  { "api.rekey.request", "{\"key_assignment\":\"gateway\",\"euk\":" S_K32a ",\"key_id\":" S_KEY "}" },
  { "api.key_confirm.request", "{\"key_id\":" S_KEY ",\"key_confirm\":" S_K32a "}" },
  { "api.key_confirm.response", "{\"state\":\"registered\"}" },
  { "api.auth.request", "{\"pne_id\":" S_PNE ",\"nonce_p\":" S_N16a ",\"requested_services\":[\"temperature\"]}" },
  { "api.auth.response", "{\"auth_id\":" S_AUTH ",\"nonce_s\":" S_N16b ",\"server_proof\":" S_K32a ",\"expires_at\":" S_TIME "}" },
  { "api.verify.request", "{\"pne_proof\":" S_K32b "}" },
  { "api.decision.request", "{\"decision\":\"deny\",\"remember\":true}" },
  { "api.auth_result", "{\"decision\":\"allow\",\"session_id\":" S_SES ",\"session_key\":" S_K32a ",\"expires_at\":" S_TIME ",\"granted_services\":[\"temperature\"],\"rule_id\":" S_RULE "}" },
  { "api.inventory.response", "{\"pn_id\":" S_PN ",\"revision\":7,\"entities\":[{\"pne_id\":" S_PNE ",\"entity\":" S_ENTITY ",\"state\":\"connected\",\"key_assignment\":\"server\",\"key_id\":" S_KEY ",\"gateway_id\":" S_GW ",\"session_id\":" S_SES ",\"registered_at\":" S_TIME ",\"last_seen\":null}]}" },
  { "api.inventory_put.request", "{\"state\":\"connected\",\"session_id\":" S_SES ",\"services\":[\"temperature\"]}" },
  { "api.inventory_put.response", "{\"revision\":8}" },
  { "api.policy", "{\"default_action\":\"ask\",\"rules\":[{\"id\":" S_RULE ",\"match\":{\"pne_id\":" S_PNE ",\"entity_type\":\"camera\",\"gateway_id\":" S_GW "},\"action\":\"deny\",\"expires_at\":" S_TIME "}]}" },
  { "api.error", "{\"error\":{\"code\":\"not_found\",\"message\":\"no such entity\"}}" },
  { "api.healthz", "{\"status\":\"ok\"}" },
  { "event.entity_revoked", "{\"type\":\"entity_revoked\",\"pne_id\":" S_PNE "}" },
  { "event.inventory_changed", "{\"type\":\"inventory_changed\",\"revision\":9}" },
  { "event.policy_changed", "{\"type\":\"policy_changed\"}" },
  { "event.session_expiring", "{\"type\":\"session_expiring\",\"expires_at\":" S_TIME "}" },
};
