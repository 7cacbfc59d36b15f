<?php
/**
 * Unit tests of the plugin's pure classes, without WordPress.
 *
 * The only WordPress functions these classes call are the translation ones; they are defined
 * here as identity functions. PHPMailer is the real one WordPress ships (Debian's wordpress
 * package), or Debian's libphp-phpmailer when WordPress is not installed.
 */

error_reporting( E_ALL );
define( 'GMAIL_RELAY_BRIDGE_TESTING', true );

function __( $text, $domain = 'default' ) {
	return $text;
}

$wordpress_phpmailer = '/usr/share/wordpress/wp-includes/PHPMailer';
if ( is_dir( $wordpress_phpmailer ) ) {
	require_once $wordpress_phpmailer . '/PHPMailer.php';
	require_once $wordpress_phpmailer . '/SMTP.php';
	require_once $wordpress_phpmailer . '/Exception.php';
} else {
	require_once '/usr/share/php/libphp-phpmailer/autoload.php';
}

$includes = dirname( __DIR__, 2 ) . '/gmail-relay-bridge/includes';
require_once $includes . '/class-gmail-relay-bridge-secret-box.php';
require_once $includes . '/class-gmail-relay-bridge-settings.php';
require_once $includes . '/class-gmail-relay-bridge-mailer.php';
require_once $includes . '/class-gmail-relay-bridge-status.php';

/**
 * A constant lookup over an array, standing in for defined()/constant().
 *
 * @param array<string,mixed> $constants Name => value.
 * @return callable
 */
function grb_constants( array $constants ) {
	return static function ( $name ) use ( $constants ) {
		return array_key_exists( $name, $constants ) ? $constants[ $name ] : null;
	};
}
