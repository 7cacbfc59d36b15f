<?php
/**
 * Mail routing: the wp_mail() hooks, and what the last message's outcome was.
 *
 * @package GmailRelayBridge
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * The plugin's mail side and shared state.
 */
final class Gmail_Relay_Bridge_Plugin {

	/** Option: the relay's reply to the last message WordPress sent through it. */
	const LAST_REPLY_OPTION = 'gmail_relay_bridge_last_reply';

	/** Option: the last wp_mail() failure. */
	const LAST_FAILURE_OPTION = 'gmail_relay_bridge_last_failure';

	/** WP Mail SMTP's main files (free and Pro), as listed in active_plugins. */
	const WP_MAIL_SMTP_PLUGINS = array( 'wp-mail-smtp/wp_mail_smtp.php', 'wp-mail-smtp-pro/wp_mail_smtp.php' );

	/** @var self|null */
	private static $instance = null;

	/** @var Gmail_Relay_Bridge_Settings|null Resolved once per request, again after a save. */
	private $settings = null;

	/**
	 * @return self
	 */
	public static function instance() {
		if ( null === self::$instance ) {
			self::$instance = new self();
		}
		return self::$instance;
	}

	/**
	 * Adds the hooks.
	 */
	public function register() {
		add_action( 'init', array( $this, 'load_textdomain' ) );
		// Late, so a From that another plugin's filter chose on purpose is seen as such.
		add_filter( 'wp_mail_from', array( $this, 'filter_from' ), 1000 );
		add_action( 'phpmailer_init', array( $this, 'configure_phpmailer' ) );
		add_action( 'wp_mail_succeeded', array( $this, 'record_success' ) );
		add_action( 'wp_mail_failed', array( $this, 'record_failure' ) );
		add_action( 'update_option_' . Gmail_Relay_Bridge_Settings::OPTION, array( $this, 'settings_changed' ) );
		add_action( 'add_option_' . Gmail_Relay_Bridge_Settings::OPTION, array( $this, 'settings_changed' ) );
		if ( is_multisite() ) {
			// The network admin's settings page writes network options.
			foreach ( array( Gmail_Relay_Bridge_Settings::OPTION, Gmail_Relay_Bridge_Settings::SITE_LOGINS_OPTION ) as $option ) {
				add_action( 'update_site_option_' . $option, array( $this, 'settings_changed' ) );
				add_action( 'add_site_option_' . $option, array( $this, 'settings_changed' ) );
			}
		}
		if ( is_admin() ) {
			( new Gmail_Relay_Bridge_Admin( $this ) )->register();
			if ( is_multisite() ) {
				( new Gmail_Relay_Bridge_Network_Admin( $this ) )->register();
			}
		}
	}

	/**
	 * Loads translations from languages/.
	 */
	public function load_textdomain() {
		load_plugin_textdomain( 'gmail-relay-bridge', false, dirname( plugin_basename( GMAIL_RELAY_BRIDGE_FILE ) ) . '/languages' );
	}

	/**
	 * @return Gmail_Relay_Bridge_Settings This site's settings.
	 */
	public function settings() {
		if ( null === $this->settings ) {
			$this->settings = self::settings_for_site( get_current_blog_id() );
		}
		return $this->settings;
	}

	/**
	 * A site's settings: on a network the network's settings with the site's own login (no
	 * switch_to_blog() needed), else the site's option.
	 *
	 * @param int|null $site_id Site id; null for the network's settings without any site's login.
	 * @return Gmail_Relay_Bridge_Settings
	 */
	public static function settings_for_site( $site_id ) {
		if ( ! is_multisite() ) {
			return Gmail_Relay_Bridge_Settings::resolve(
				array( __CLASS__, 'constant_value' ),
				get_option( Gmail_Relay_Bridge_Settings::OPTION, array() ),
				self::secret_box()
			);
		}
		$logins = get_site_option( Gmail_Relay_Bridge_Settings::SITE_LOGINS_OPTION, array() );
		return Gmail_Relay_Bridge_Settings::resolve(
			array( __CLASS__, 'constant_value' ),
			get_site_option( Gmail_Relay_Bridge_Settings::OPTION, array() ),
			self::secret_box(),
			null !== $site_id && is_array( $logins ) && isset( $logins[ (int) $site_id ] ) ? $logins[ (int) $site_id ] : null
		);
	}

	/**
	 * Re-reads the settings and the status after the settings page saved.
	 */
	public function settings_changed() {
		$this->settings = null;
		Gmail_Relay_Bridge_Status_Client::forget();
	}

	/**
	 * @param string $name Constant name.
	 * @return mixed|null The constant's value, null when it is not defined.
	 */
	public static function constant_value( $name ) {
		return defined( $name ) ? constant( $name ) : null;
	}

	/**
	 * @return Gmail_Relay_Bridge_Secret_Box
	 */
	public static function secret_box() {
		return new Gmail_Relay_Bridge_Secret_Box( wp_salt( 'secure_auth' ) );
	}

	/**
	 * WP Mail SMTP owns PHPMailer when it is active; the bridge then only shows status.
	 *
	 * @return bool
	 */
	public function wp_mail_smtp_active() {
		if ( function_exists( 'wp_mail_smtp' ) || class_exists( 'WPMailSMTP\Core', false ) ) {
			return true;
		}
		$active = (array) get_option( 'active_plugins', array() );
		if ( is_multisite() ) {
			$active = array_merge( $active, array_keys( (array) get_site_option( 'active_sitewide_plugins', array() ) ) );
		}
		return array() !== array_intersect( self::WP_MAIL_SMTP_PLUGINS, $active );
	}

	/**
	 * @return bool Whether wp_mail() goes through the relay.
	 */
	public function routes_mail() {
		return ! $this->wp_mail_smtp_active() && $this->settings()->can_send();
	}

	/**
	 * wp_mail_from: WordPress's own default becomes the relay account's address.
	 *
	 * @param string $from The From wp_mail() is about to use.
	 * @return string
	 */
	public function filter_from( $from ) {
		if ( ! $this->routes_mail() ) {
			return $from;
		}
		return Gmail_Relay_Bridge_Mailer::choose_from(
			(string) $from,
			Gmail_Relay_Bridge_Mailer::wordpress_default_from( network_home_url() ),
			(string) $this->settings()->get( 'from' )
		);
	}

	/**
	 * phpmailer_init: point PHPMailer at the relay.
	 *
	 * @param \PHPMailer\PHPMailer\PHPMailer $phpmailer WordPress's mailer.
	 */
	public function configure_phpmailer( $phpmailer ) {
		if ( ! $this->routes_mail() ) {
			return;
		}
		/**
		 * Filters how many seconds PHPMailer waits for the relay.
		 *
		 * @param int $seconds Default 30.
		 */
		$timeout = (int) apply_filters( 'gmail_relay_bridge_timeout', Gmail_Relay_Bridge_Mailer::TIMEOUT );
		Gmail_Relay_Bridge_Mailer::configure( $phpmailer, $this->settings(), max( 1, $timeout ) );
	}

	/**
	 * @return string The relay's reply to the message wp_mail() just sent, or ''.
	 */
	public function last_message_reply() {
		global $phpmailer;
		if ( ! is_object( $phpmailer ) || ! method_exists( $phpmailer, 'getSMTPInstance' ) ) {
			return '';
		}
		$smtp = $phpmailer->getSMTPInstance();
		return $smtp instanceof Gmail_Relay_Bridge_SMTP ? $smtp->get_message_reply() : '';
	}

	/**
	 * wp_mail_succeeded: remember the relay's answer.
	 *
	 * @param array<string,mixed> $mail_data to, subject, ...
	 */
	public function record_success( $mail_data ) {
		$reply = $this->last_message_reply();
		if ( '' === $reply ) {
			return;
		}
		update_option(
			self::LAST_REPLY_OPTION,
			array(
				'time'    => time(),
				'reply'   => $reply,
				'to'      => self::recipients( $mail_data ),
				'subject' => is_array( $mail_data ) && isset( $mail_data['subject'] ) ? (string) $mail_data['subject'] : '',
			),
			false
		);
	}

	/**
	 * wp_mail_failed: remember what went wrong, with PHPMailer's full error (it carries the
	 * relay's reply text and log id) rather than the exception's one line.
	 *
	 * @param WP_Error $error From wp_mail().
	 */
	public function record_failure( $error ) {
		global $phpmailer;
		if ( ! is_wp_error( $error ) ) {
			return;
		}
		$data = $error->get_error_data();
		update_option(
			self::LAST_FAILURE_OPTION,
			array(
				'time'    => time(),
				// OpenSSL and socket errors may carry bytes that are not UTF-8; the database refuses those.
				'message' => self::utf8( $error->get_error_message() ),
				'detail'  => is_object( $phpmailer ) && isset( $phpmailer->ErrorInfo ) ? self::utf8( $phpmailer->ErrorInfo ) : '',
				'reply'   => $this->last_message_reply(),
				'to'      => self::recipients( $data ),
				'subject' => is_array( $data ) && isset( $data['subject'] ) ? (string) $data['subject'] : '',
			),
			false
		);
	}

	/**
	 * Sends the test email through wp_mail() and says what happened.
	 *
	 * @param string $to Recipient.
	 * @return array{ok:bool,to:string,reply:string,error:string,routed:bool,time:int}
	 */
	public function send_test_email( $to ) {
		$failure = '';
		$catch   = static function ( $error ) use ( &$failure ) {
			global $phpmailer;
			$failure = is_wp_error( $error ) ? $error->get_error_message() : '';
			if ( is_object( $phpmailer ) && ! empty( $phpmailer->ErrorInfo ) && false === strpos( $failure, (string) $phpmailer->ErrorInfo ) ) {
				$failure = (string) $phpmailer->ErrorInfo;
			}
			$failure = self::utf8( $failure );
		};
		add_action( 'wp_mail_failed', $catch );
		$site = wp_specialchars_decode( get_bloginfo( 'name' ), ENT_QUOTES );
		/* translators: %s: site name. */
		$subject = sprintf( __( 'Test email from %s through gmail-relay', 'gmail-relay-bridge' ), $site );
		$body    = sprintf(
			/* translators: 1: site address, 2: time. */
			__( "This is a test email sent by the Gmail Relay Bridge plugin on %1\$s at %2\$s.\n\nIf it arrived, WordPress mail goes through the relay.", 'gmail-relay-bridge' ),
			home_url( '/' ),
			gmdate( 'Y-m-d H:i:s' ) . ' UTC'
		);
		$ok = wp_mail( $to, $subject, $body );
		remove_action( 'wp_mail_failed', $catch );
		return array(
			'ok'     => (bool) $ok,
			'to'     => $to,
			'reply'  => $this->last_message_reply(),
			'error'  => $failure,
			'routed' => $this->routes_mail(),
			'time'   => time(),
		);
	}

	/**
	 * @param mixed $text Text that may hold bytes that are not UTF-8.
	 * @return string The text, each byte of a broken sequence as "?".
	 */
	private static function utf8( $text ) {
		$text = (string) $text;
		return 1 === preg_match( '//u', $text ) ? $text : (string) preg_replace( '/[\x80-\xFF]/', '?', $text );
	}

	/**
	 * @param mixed $mail_data wp_mail()'s data array.
	 * @return string[]
	 */
	private static function recipients( $mail_data ) {
		if ( ! is_array( $mail_data ) || ! isset( $mail_data['to'] ) ) {
			return array();
		}
		return array_map( 'strval', array_filter( (array) $mail_data['to'], 'is_scalar' ) );
	}
}
