<?php
/**
 * Plugin Name:       Gmail Relay Bridge
 * Description:       Sends WordPress mail through gmail-relay (SMTP AUTH, STARTTLS or implicit TLS) and shows the relay's health: account states, held and failed mail, and what to do about it.
 * Version:           0.1.0
 * Requires at least: 5.9
 * Requires PHP:      7.4
 * Author:            gmail-relay
 * License:           MIT
 * Text Domain:       gmail-relay-bridge
 * Domain Path:       /languages
 * Network:           true
 *
 * @package GmailRelayBridge
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

define( 'GMAIL_RELAY_BRIDGE_FILE', __FILE__ );
define( 'GMAIL_RELAY_BRIDGE_VERSION', '0.1.0' );

require_once __DIR__ . '/includes/class-gmail-relay-bridge-secret-box.php';
require_once __DIR__ . '/includes/class-gmail-relay-bridge-settings.php';
require_once __DIR__ . '/includes/class-gmail-relay-bridge-mailer.php';
require_once __DIR__ . '/includes/class-gmail-relay-bridge-status.php';
require_once __DIR__ . '/includes/class-gmail-relay-bridge-status-client.php';
require_once __DIR__ . '/includes/class-gmail-relay-bridge-chart.php';
require_once __DIR__ . '/includes/class-gmail-relay-bridge-plugin.php';
require_once __DIR__ . '/includes/class-gmail-relay-bridge-admin.php';
require_once __DIR__ . '/includes/class-gmail-relay-bridge-network-admin.php';

Gmail_Relay_Bridge_Plugin::instance()->register();
