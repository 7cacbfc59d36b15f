<?php
/**
 * Removes everything the plugin stored: its options and transients, on every site of a network,
 * and the network's own settings.
 *
 * @package GmailRelayBridge
 */

if ( ! defined( 'WP_UNINSTALL_PLUGIN' ) ) {
	exit;
}

/**
 * Deletes the bridge's options and transients on the current site.
 */
function gmail_relay_bridge_uninstall_site() {
	global $wpdb;
	delete_option( 'gmail_relay_bridge_settings' );
	delete_option( 'gmail_relay_bridge_last_reply' );
	delete_option( 'gmail_relay_bridge_last_failure' );
	delete_transient( 'gmail_relay_bridge_status' );
	// Per-user test email results: gmail_relay_bridge_test_<user id>.
	$names = $wpdb->get_col( // phpcs:ignore WordPress.DB.DirectDatabaseQuery -- one-time cleanup.
		$wpdb->prepare(
			"SELECT option_name FROM {$wpdb->options} WHERE option_name LIKE %s",
			$wpdb->esc_like( '_transient_gmail_relay_bridge_' ) . '%'
		)
	);
	foreach ( $names as $name ) {
		delete_transient( substr( $name, strlen( '_transient_' ) ) );
	}
}

if ( is_multisite() ) {
	foreach ( get_sites( array( 'fields' => 'ids', 'number' => 0 ) ) as $gmail_relay_bridge_site ) {
		switch_to_blog( $gmail_relay_bridge_site );
		gmail_relay_bridge_uninstall_site();
		restore_current_blog();
	}
	// The network's settings, the sites' logins, the shared status and the save notices.
	global $wpdb; // uninstall.php is included from inside uninstall_plugin().
	delete_site_option( 'gmail_relay_bridge_settings' );
	delete_site_option( 'gmail_relay_bridge_site_logins' );
	$gmail_relay_bridge_names = $wpdb->get_col( // phpcs:ignore WordPress.DB.DirectDatabaseQuery -- one-time cleanup.
		$wpdb->prepare(
			"SELECT meta_key FROM {$wpdb->sitemeta} WHERE meta_key LIKE %s",
			$wpdb->esc_like( '_site_transient_gmail_relay_bridge_' ) . '%'
		)
	);
	foreach ( $gmail_relay_bridge_names as $gmail_relay_bridge_name ) {
		delete_site_transient( substr( $gmail_relay_bridge_name, strlen( '_site_transient_' ) ) );
	}
} else {
	gmail_relay_bridge_uninstall_site();
}
