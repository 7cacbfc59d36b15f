<?php
/**
 * How PHPMailer is pointed at the relay, and which From a message gets.
 *
 * Pure apart from the PHPMailer object it configures: no WordPress calls, unit-tested with the
 * PHPMailer that WordPress ships.
 *
 * @package GmailRelayBridge
 */

if ( ! defined( 'ABSPATH' ) && ! defined( 'GMAIL_RELAY_BRIDGE_TESTING' ) ) {
	exit;
}

/**
 * PHPMailer configuration for the relay.
 */
final class Gmail_Relay_Bridge_Mailer {

	/**
	 * Seconds PHPMailer waits for the relay. The relay answers the end of DATA within
	 * delivery.sync_timeout_seconds (10 by default) and queues the message after that.
	 */
	const TIMEOUT = 30;

	/**
	 * Routes one PHPMailer instance through the relay.
	 *
	 * @param \PHPMailer\PHPMailer\PHPMailer $phpmailer WordPress's mailer (wp_mail()'s global).
	 * @param Gmail_Relay_Bridge_Settings    $settings  Usable settings (can_send() is true).
	 * @param int                            $timeout   Seconds for connecting and for each reply.
	 * @return bool False, with PHPMailer untouched, when the settings cannot send (such as a
	 *              password from wp-config.php with a host from the settings page).
	 */
	public static function configure( $phpmailer, Gmail_Relay_Bridge_Settings $settings, $timeout = self::TIMEOUT ) {
		if ( ! $settings->can_send() ) {
			return false;
		}
		$phpmailer->isSMTP();
		$phpmailer->Host       = (string) $settings->get( 'host' );
		$phpmailer->Port       = (int) $settings->get( 'port' );
		$phpmailer->SMTPAuth   = true;
		$phpmailer->Username   = (string) $settings->get( 'user' );
		$phpmailer->Password   = (string) $settings->get( 'pass' );
		$phpmailer->SMTPSecure = self::phpmailer_secure( (string) $settings->get( 'security' ) );
		// PHPMailer upgrades to STARTTLS by itself whenever the server offers it, and then fails on
		// a self-signed certificate. The bridge only uses TLS when the setting says so.
		$phpmailer->SMTPAutoTLS   = false;
		$phpmailer->SMTPKeepAlive = false;
		$phpmailer->Timeout       = (int) $timeout;

		$ca_file = (string) $settings->get( 'tls_ca_file' );
		if ( '' !== $ca_file && 'none' !== $settings->get( 'security' ) ) {
			// Trust this certificate (the relay's own, for a self-signed one) and still verify it.
			$phpmailer->SMTPOptions = array(
				'ssl' => array(
					'cafile'           => $ca_file,
					'verify_peer'      => true,
					'verify_peer_name' => true,
				),
			);
		}

		// The envelope sender: the relay account's address, which is what Gmail sends as anyway.
		$relay_from        = (string) $settings->get( 'from' );
		$phpmailer->Sender = '' !== $relay_from ? $relay_from : (string) $phpmailer->From;

		// Keeps the relay's reply to the message (with its log id) for the admin pages.
		if ( class_exists( '\PHPMailer\PHPMailer\SMTP' ) ) {
			require_once __DIR__ . '/class-gmail-relay-bridge-smtp.php';
			$smtp = $phpmailer->getSMTPInstance();
			if ( ! ( $smtp instanceof Gmail_Relay_Bridge_SMTP ) ) {
				$smtp = new Gmail_Relay_Bridge_SMTP();
				$phpmailer->setSMTPInstance( $smtp );
			}
			$smtp->forget_message_reply();
		}
		return true;
	}

	/**
	 * The bridge's security names in PHPMailer's terms ('tls' there means STARTTLS).
	 *
	 * @param string $security none, starttls or tls.
	 * @return string Value for PHPMailer::$SMTPSecure.
	 */
	public static function phpmailer_secure( $security ) {
		switch ( $security ) {
			case 'starttls':
				return 'tls';
			case 'tls':
				return 'ssl';
			default:
				return '';
		}
	}

	/**
	 * The From wp_mail() uses when nobody chose one: wordpress@ plus the site's host without "www.".
	 *
	 * @param string $home_url network_home_url().
	 * @return string
	 */
	public static function wordpress_default_from( $home_url ) {
		$host = parse_url( (string) $home_url, PHP_URL_HOST ); // phpcs:ignore WordPress.WP.AlternativeFunctions.parse_url_parse_url -- pure class; mirrors wp_mail().
		$from = 'wordpress@';
		if ( is_string( $host ) ) {
			if ( 'www.' === substr( $host, 0, 4 ) ) {
				$host = substr( $host, 4 );
			}
			$from .= $host;
		}
		return $from;
	}

	/**
	 * WordPress's default From becomes the relay account's address; any other From was set on
	 * purpose (a header, a plugin's filter) and is kept (the relay puts it in Reply-To when Gmail
	 * cannot send as it).
	 *
	 * @param string $from       The From wp_mail() is about to use.
	 * @param string $wp_default wordpress_default_from().
	 * @param string $relay_from GMAIL_RELAY_FROM, or '' when not set.
	 * @return string
	 */
	public static function choose_from( $from, $wp_default, $relay_from ) {
		if ( '' !== $relay_from && 0 === strcasecmp( trim( (string) $from ), $wp_default ) ) {
			return $relay_from;
		}
		return (string) $from;
	}
}
