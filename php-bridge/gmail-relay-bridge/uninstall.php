<?php
/**
 * Removes everything the plugin stored: its options and transients, on every site of a network.
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
} else {
	gmail_relay_bridge_uninstall_site();
}
