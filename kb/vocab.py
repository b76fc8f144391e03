"""Controlled vocabularies shared by the store, the models and the service."""

PRIORITIES = ("low", "standard", "high", "highest")

#: Specialist groups (routing targets and skill names).
GROUPS = (
    "workstations",
    "network",  # network and VPN
    "servers",  # servers, virtualization, storage
    "1c",
    "telephony",
    "printers",  # printers and office equipment
    "retail",  # retail equipment: scales, label printers, fiscal registers, scanners
    "mail",  # mail / Microsoft 365
    "security",  # security and access
    "backup",  # backup and data recovery
    "cabling",  # structured cabling and CCTV
)

CHANNELS = ("phone", "email", "portal", "chat", "monitoring")

TICKET_TYPES = ("incident", "service_request", "change_request", "consultation")

NODE_KINDS = (
    "workstation",
    "server",
    "virtualization_host",
    "storage",
    "network_device",
    "vpn_gateway",
    "printer",
    "pbx",
    "1c_base",
    "mail",
    "backup",
    "retail_device",
    "camera",
    "website",
)

CRITICALITIES = ("low", "medium", "high", "critical")

#: Ticket statuses of the ITIL path (transitions live in service/workflow.py).
STATUSES = (
    "new",
    "triaged",
    "in_progress",
    "escalated",
    "with_specialists",
    "waiting_for_client",
    "resolved",
    "closed",
    "reopened",
)
OPEN_STATUSES = tuple(s for s in STATUSES if s not in ("resolved", "closed"))

BILLING_MODES = ("included", "hourly", "fixed")

CALENDARS = ("10x5", "8x5", "24x7")

ROLES = ("engineer_l1", "engineer_l2", "manager", "analyst", "admin", "client", "partner_engineer")

#: What an API token may do.
TOKEN_SCOPES = ("read", "write", "intake")

#: Languages of pages and mail (Russian first: the default).
LANGUAGES = ("ru", "en")
