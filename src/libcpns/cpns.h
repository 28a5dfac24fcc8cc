/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "cpns-error.h"
#include "cpns-base64.h"
#include "cpns-ids.h"
#include "cpns-crypto.h"
#include "cpns-message.h"
#include "cpns-frame.h"
#include "cpns-tls.h"
#include "cpns-discovery.h"
#include "cpns-invitation.h"
