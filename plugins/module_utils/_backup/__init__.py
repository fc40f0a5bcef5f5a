# Copyright: (c) 2026, auraspeak.ops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Backups, restore drills and restores: the backup_verify module's code and the host's
# auraspeak-backup command (docker.py says why the two share it).
