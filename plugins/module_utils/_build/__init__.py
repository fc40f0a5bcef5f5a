# Copyright: (c) 2026, auraspeak.ops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Private to the auraspeak.ops collection: building images (the build context
# and its hash, the Dockerfile, BuildKit logs, source labels).
