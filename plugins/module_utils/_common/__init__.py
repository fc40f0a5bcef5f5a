# Copyright: (c) 2026, auraspeak.ops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# What every part of the collection shares: the one client to the Docker CLI,
# the one way to write files, the time format, the lock heartbeat, image
# references and the rules for names.
