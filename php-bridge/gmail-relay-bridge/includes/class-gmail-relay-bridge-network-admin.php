<?php
/**
 * The network admin of a multisite install: the settings (Network Settings → Gmail Relay) with a
 * relay login per site, and every site's mail state in one place (Sites → Gmail Relay mail).
 *
 * @package GmailRelayBridge
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * Network admin pages. Everything printed is escaped at the point of output.
 */
final class Gmail_Relay_Bridge_Network_Admin {

	/** Network Settings → Gmail Relay. */
	const SETTINGS_PAGE = 'gmail-relay-bridge-network';

	/** Sites → Gmail Relay mail. */
	const SITES_PAGE = 'gmail-relay-bridge-sites';

	/** network/edit.php action and nonce action of the settings form. */
	const SAVE_ACTION = 'gmail_relay_bridge_network';

	/** Per-user network transient prefix holding the save's messages until the page shows them. */
	const NOTICE_TRANSIENT = 'gmail_relay_bridge_network_notice_';

	/** Who sees and changes the network's settings. */
	const CAPABILITY = 'manage_network_options';

	/** Sites listed on the pages (a bigger network is cut there and says so). */
	const MAX_SITES = 500;

	/** @var Gmail_Relay_Bridge_Plugin */
	private $plugin;

	/**
	 * @param Gmail_Relay_Bridge_Plugin $plugin The mail side.
	 */
	public function __construct( Gmail_Relay_Bridge_Plugin $plugin ) {
		$this->plugin = $plugin;
	}

	/**
	 * Adds the network admin hooks, and the note that replaces each site's settings page.
	 */
	public function register() {
		add_action( 'network_admin_menu', array( $this, 'add_network_pages' ) );
		add_action( 'network_admin_edit_' . self::SAVE_ACTION, array( $this, 'handle_save' ) );
		add_filter( 'network_admin_plugin_action_links_' . plugin_basename( GMAIL_RELAY_BRIDGE_FILE ), array( $this, 'action_links' ) );
		add_action( 'admin_menu', array( $this, 'add_site_settings_note' ) );
	}

	/**
	 * Network Settings → Gmail Relay and Sites → Gmail Relay mail.
	 */
	public function add_network_pages() {
		add_submenu_page(
			'settings.php',
			__( 'Gmail Relay', 'gmail-relay-bridge' ),
			__( 'Gmail Relay', 'gmail-relay-bridge' ),
			self::CAPABILITY,
			self::SETTINGS_PAGE,
			array( $this, 'render_settings_page' )
		);
		add_submenu_page(
			'sites.php',
			__( 'Gmail Relay mail', 'gmail-relay-bridge' ),
			__( 'Gmail Relay mail', 'gmail-relay-bridge' ),
			self::CAPABILITY,
			self::SITES_PAGE,
			array( $this, 'render_sites_page' )
		);
	}

	/**
	 * A site's Settings → Gmail Relay says where the settings are (the admin pages link there).
	 */
	public function add_site_settings_note() {
		add_options_page(
			__( 'Gmail Relay', 'gmail-relay-bridge' ),
			__( 'Gmail Relay', 'gmail-relay-bridge' ),
			Gmail_Relay_Bridge_Admin::CAPABILITY,
			Gmail_Relay_Bridge_Admin::SETTINGS_PAGE,
			array( $this, 'render_site_settings_note' )
		);
	}

	/**
	 * @param string[] $links Plugin row links on the network's Plugins screen.
	 * @return string[]
	 */
	public function action_links( $links ) {
		array_unshift(
			$links,
			sprintf( '<a href="%s">%s</a>', esc_url( network_admin_url( 'settings.php?page=' . self::SETTINGS_PAGE ) ), esc_html__( 'Settings', 'gmail-relay-bridge' ) ),
			sprintf( '<a href="%s">%s</a>', esc_url( network_admin_url( 'sites.php?page=' . self::SITES_PAGE ) ), esc_html__( 'Sites\' mail', 'gmail-relay-bridge' ) )
		);
		return $links;
	}

	/**
	 * @return int[] The network's sites, at most MAX_SITES.
	 */
	private static function site_ids() {
		return array_map(
			'intval',
			get_sites(
				array(
					'fields'     => 'ids',
					'number'     => self::MAX_SITES,
					'network_id' => get_current_network_id(),
				)
			)
		);
	}

	/**
	 * network/edit.php?action=gmail_relay_bridge_network: checks and stores the form.
	 */
	public function handle_save() {
		if ( ! current_user_can( self::CAPABILITY ) ) {
			wp_die( esc_html__( 'You are not allowed to change these settings.', 'gmail-relay-bridge' ), '', array( 'response' => 403 ) );
		}
		check_admin_referer( self::SAVE_ACTION );
		$box      = Gmail_Relay_Bridge_Plugin::secret_box();
		$input    = isset( $_POST[ Gmail_Relay_Bridge_Settings::OPTION ] ) ? wp_unslash( $_POST[ Gmail_Relay_Bridge_Settings::OPTION ] ) : array(); // phpcs:ignore WordPress.Security.ValidatedSanitizedInput.InputNotSanitized -- Gmail_Relay_Bridge_Settings checks every field.
		$logins   = isset( $_POST[ Gmail_Relay_Bridge_Settings::SITE_LOGINS_OPTION ] ) ? wp_unslash( $_POST[ Gmail_Relay_Bridge_Settings::SITE_LOGINS_OPTION ] ) : array(); // phpcs:ignore WordPress.Security.ValidatedSanitizedInput.InputNotSanitized -- as above.
		$settings = Gmail_Relay_Bridge_Settings::sanitize_input(
			$input,
			get_site_option( Gmail_Relay_Bridge_Settings::OPTION, array() ),
			array( 'Gmail_Relay_Bridge_Plugin', 'constant_value' ),
			$box
		);
		$sites    = Gmail_Relay_Bridge_Settings::sanitize_site_logins(
			$logins,
			get_site_option( Gmail_Relay_Bridge_Settings::SITE_LOGINS_OPTION, array() ),
			self::site_ids(),
			$box
		);
		update_site_option( Gmail_Relay_Bridge_Settings::OPTION, $settings['stored'] );
		update_site_option( Gmail_Relay_Bridge_Settings::SITE_LOGINS_OPTION, $sites['stored'] );
		Gmail_Relay_Bridge_Status_Client::forget();

		$errors = array_values( $settings['errors'] );
		foreach ( $sites['errors'] as $site_id => $fields ) {
			foreach ( $fields as $message ) {
				/* translators: 1: site address, 2: what is wrong. */
				$errors[] = sprintf( __( 'Site %1$s: %2$s', 'gmail-relay-bridge' ), get_home_url( $site_id ), $message );
			}
		}
		set_site_transient( self::NOTICE_TRANSIENT . get_current_user_id(), $errors, 5 * MINUTE_IN_SECONDS );
		wp_safe_redirect( network_admin_url( 'settings.php?page=' . self::SETTINGS_PAGE . '&updated=1' ) );
		exit;
	}

	/**
	 * Network Settings → Gmail Relay: the network's relay settings and each site's own login.
	 */
	public function render_settings_page() {
		if ( ! current_user_can( self::CAPABILITY ) ) {
			wp_die( esc_html__( 'You are not allowed to change these settings.', 'gmail-relay-bridge' ), 403 );
		}
		$settings = Gmail_Relay_Bridge_Plugin::settings_for_site( null );
		$option   = Gmail_Relay_Bridge_Settings::OPTION;
		echo '<div class="wrap gmail-relay-bridge-network-settings"><h1>' . esc_html__( 'Gmail Relay settings for the network', 'gmail-relay-bridge' ) . '</h1>';
		$this->render_save_notice();
		echo '<p>' . esc_html__( 'These settings are used by every site of the network; a site with a login of its own below sends with that login. A constant in wp-config.php (shown below its field) wins over both.', 'gmail-relay-bridge' ) . '</p>';
		echo '<form method="post" action="' . esc_url( network_admin_url( 'edit.php?action=' . self::SAVE_ACTION ) ) . '">';
		wp_nonce_field( self::SAVE_ACTION );
		echo '<table class="form-table" role="presentation"><tbody>';
		foreach ( Gmail_Relay_Bridge_Settings::CONSTANTS as $field => $constant ) {
			$id     = 'gmail-relay-bridge-' . str_replace( '_', '-', $field );
			$name   = $option . '[' . $field . ']';
			$locked = 'constant' === $settings->source( $field );
			$secret = in_array( $field, Gmail_Relay_Bridge_Settings::SECRETS, true );
			echo '<tr><th scope="row"><label for="' . esc_attr( $id ) . '">' . esc_html( self::label( $field ) ) . '</label></th><td>';
			if ( 'security' === $field ) {
				echo '<select id="' . esc_attr( $id ) . '" name="' . esc_attr( $name ) . '"' . disabled( $locked, true, false ) . '>';
				foreach ( Gmail_Relay_Bridge_Settings::SECURITY_VALUES as $choice ) {
					echo '<option value="' . esc_attr( $choice ) . '"' . selected( $settings->get( $field ), $choice, false ) . '>' . esc_html( $choice ) . '</option>';
				}
				echo '</select>';
			} else {
				printf(
					'<input type="%s" class="regular-text" id="%s" name="%s" value="%s" placeholder="%s" autocomplete="off"%s />',
					esc_attr( $secret ? 'password' : ( 'port' === $field ? 'number' : 'text' ) ),
					esc_attr( $id ),
					esc_attr( $name ),
					esc_attr( $secret ? '' : (string) $settings->get( $field ) ),
					esc_attr( $secret && '' !== $settings->get( $field ) ? __( '(stored; leave empty to keep)', 'gmail-relay-bridge' ) : '' ),
					disabled( $locked, true, false )
				);
				if ( $secret && 'option' === $settings->source( $field ) ) {
					echo ' <label><input type="checkbox" name="' . esc_attr( $option . '[clear_' . $field . ']' ) . '" value="1" /> ' . esc_html__( 'Remove', 'gmail-relay-bridge' ) . '</label>';
				}
			}
			echo '<p class="description">';
			if ( $locked ) {
				/* translators: %s: constant name. */
				echo '<strong>' . esc_html( sprintf( __( 'Set by %s in wp-config.php.', 'gmail-relay-bridge' ), $settings->constant_name( $field ) ) ) . '</strong>';
			} else {
				/* translators: %s: constant name. */
				echo esc_html( sprintf( __( 'Constant: %s.', 'gmail-relay-bridge' ), $settings->constant_name( $field ) ) );
			}
			$errors = $settings->errors();
			if ( isset( $errors[ $field ] ) ) {
				echo '<br /><span class="gmail-relay-bridge-field-error" style="color:#b32d2e">' . esc_html( $errors[ $field ] ) . '</span>';
			}
			echo '</p></td></tr>';
		}
		echo '</tbody></table>';

		echo '<h2 id="site-logins">' . esc_html__( 'A relay login for each site', 'gmail-relay-bridge' ) . '</h2>';
		$ignored = $this->login_constant();
		if ( '' !== $ignored ) {
			/* translators: %s: constant name such as GMAIL_RELAY_USER. */
			echo '<div class="notice notice-warning inline"><p>' . esc_html( sprintf( __( '%s is defined in wp-config.php, so every site uses the login from wp-config.php and the logins below are not used.', 'gmail-relay-bridge' ), $ignored ) ) . '</p></div>';
		}
		echo '<p>' . esc_html__( 'Each login comes from gmail-relay credential add on the relay\'s host; its From is the address of the relay account the login sends through. A site without a login uses the network\'s. Passwords are stored encrypted and never shown; an empty password field keeps the stored one.', 'gmail-relay-bridge' ) . '</p>';
		echo '<table class="widefat striped gmail-relay-bridge-site-logins"><thead><tr><th>' . esc_html__( 'Site', 'gmail-relay-bridge' ) . '</th><th>' . esc_html__( 'SMTP login', 'gmail-relay-bridge' ) . '</th><th>' . esc_html__( 'SMTP password', 'gmail-relay-bridge' ) . '</th><th>' . esc_html__( 'From address (the relay account)', 'gmail-relay-bridge' ) . '</th></tr></thead><tbody>';
		$logins = get_site_option( Gmail_Relay_Bridge_Settings::SITE_LOGINS_OPTION, array() );
		$logins = is_array( $logins ) ? $logins : array();
		foreach ( self::site_ids() as $site_id ) {
			$login = isset( $logins[ $site_id ] ) && is_array( $logins[ $site_id ] ) ? $logins[ $site_id ] : array();
			$base  = Gmail_Relay_Bridge_Settings::SITE_LOGINS_OPTION . '[' . $site_id . ']';
			$has   = isset( $login['pass'] ) && '' !== $login['pass'];
			echo '<tr data-site="' . esc_attr( (string) $site_id ) . '"><td>' . esc_html( self::site_name( $site_id ) ) . '<br /><code>' . esc_html( get_home_url( $site_id ) ) . '</code></td>';
			printf(
				'<td><input type="text" name="%s" value="%s" autocomplete="off" aria-label="%s" /></td>',
				esc_attr( $base . '[user]' ),
				esc_attr( isset( $login['user'] ) ? (string) $login['user'] : '' ),
				esc_attr__( 'SMTP login', 'gmail-relay-bridge' )
			);
			printf(
				'<td><input type="password" name="%s" value="" placeholder="%s" autocomplete="new-password" aria-label="%s" />',
				esc_attr( $base . '[pass]' ),
				esc_attr( $has ? __( '(stored; leave empty to keep)', 'gmail-relay-bridge' ) : '' ),
				esc_attr__( 'SMTP password', 'gmail-relay-bridge' )
			);
			if ( $has ) {
				echo ' <label><input type="checkbox" name="' . esc_attr( $base . '[clear_pass]' ) . '" value="1" /> ' . esc_html__( 'Remove', 'gmail-relay-bridge' ) . '</label>';
			}
			echo '</td>';
			printf(
				'<td><input type="email" name="%s" value="%s" aria-label="%s" /></td></tr>',
				esc_attr( $base . '[from]' ),
				esc_attr( isset( $login['from'] ) ? (string) $login['from'] : '' ),
				esc_attr__( 'From address', 'gmail-relay-bridge' )
			);
		}
		echo '</tbody></table>';
		submit_button();
		echo '</form>';
		echo '<p><a href="' . esc_url( network_admin_url( 'sites.php?page=' . self::SITES_PAGE ) ) . '">' . esc_html__( 'Every site\'s mail state', 'gmail-relay-bridge' ) . '</a></p></div>';
	}

	/**
	 * Sites → Gmail Relay mail: each site's login, the relay account it sends through and that
	 * account's state, and the site's last relay answer and last failure.
	 */
	public function render_sites_page() {
		if ( ! current_user_can( self::CAPABILITY ) ) {
			wp_die( esc_html__( 'You are not allowed to see the relay status.', 'gmail-relay-bridge' ), 403 );
		}
		$fresh  = isset( $_GET['refresh'] ); // phpcs:ignore WordPress.Security.NonceVerification.Recommended -- a reload without the cache, no state change.
		$status = ( new Gmail_Relay_Bridge_Status_Client( Gmail_Relay_Bridge_Plugin::settings_for_site( null ) ) )->get( $fresh );
		echo '<div class="wrap gmail-relay-bridge-network-sites"><h1>' . esc_html__( 'Mail of every site through Gmail Relay', 'gmail-relay-bridge' ) . '</h1>';
		if ( null === $status ) {
			echo '<p class="gmail-relay-bridge-unreachable">' . esc_html__( 'No status URL is set (GMAIL_RELAY_STATUS_URL), so the relay\'s health is not shown.', 'gmail-relay-bridge' ) . '</p>';
		} elseif ( ! $status->reachable ) {
			echo '<div class="notice notice-error inline gmail-relay-bridge-unreachable"><p><strong>' . esc_html__( 'The relay\'s status is unknown.', 'gmail-relay-bridge' ) . '</strong> ' . esc_html( $status->error ) . '</p></div>';
		} else {
			echo '<p class="gmail-relay-bridge-queue">' . esc_html(
				sprintf(
					/* translators: 1: sent in 24 hours, 2: queued, 3: held, 4: failed. */
					__( 'The relay: sent in 24 hours: %1$d, queued: %2$d, held: %3$d, failed: %4$d.', 'gmail-relay-bridge' ),
					$status->queue['sent_24h'],
					$status->queue['queued'],
					$status->queue['held'],
					$status->queue['failed']
				)
			) . '</p>';
		}
		$ignored = $this->login_constant();
		echo '<table class="widefat striped gmail-relay-bridge-sites"><thead><tr>';
		foreach ( array( __( 'Site', 'gmail-relay-bridge' ), __( 'Relay login', 'gmail-relay-bridge' ), __( 'Relay account', 'gmail-relay-bridge' ), __( 'State', 'gmail-relay-bridge' ), __( 'Mail of the account', 'gmail-relay-bridge' ), __( 'Last answer and failure', 'gmail-relay-bridge' ) ) as $heading ) {
			echo '<th scope="col">' . esc_html( $heading ) . '</th>';
		}
		echo '</tr></thead><tbody>';
		$site_ids = self::site_ids();
		foreach ( $site_ids as $site_id ) {
			$this->render_site_row( $site_id, $status, $ignored );
		}
		echo '</tbody></table>';
		if ( count( $site_ids ) >= self::MAX_SITES ) {
			/* translators: %d: number of sites. */
			echo '<p class="description">' . esc_html( sprintf( __( 'The first %d sites are listed.', 'gmail-relay-bridge' ), self::MAX_SITES ) ) . '</p>';
		}
		echo '<p><a class="button" href="' . esc_url( network_admin_url( 'sites.php?page=' . self::SITES_PAGE . '&refresh=1' ) ) . '">' . esc_html__( 'Refresh', 'gmail-relay-bridge' ) . '</a> ';
		echo '<a href="' . esc_url( network_admin_url( 'settings.php?page=' . self::SETTINGS_PAGE . '#site-logins' ) ) . '">' . esc_html__( 'Change the sites\' logins', 'gmail-relay-bridge' ) . '</a></p></div>';
	}

	/**
	 * One site's row.
	 *
	 * @param int                            $site_id Site.
	 * @param Gmail_Relay_Bridge_Status|null $status  The relay's status.
	 * @param string                         $ignored The constant that overrides the sites' logins, or ''.
	 */
	private function render_site_row( $site_id, $status, $ignored ) {
		$settings = Gmail_Relay_Bridge_Plugin::settings_for_site( $site_id );
		$from     = (string) $settings->get( 'from' );
		$account  = null !== $status && $status->reachable ? $status->account_with_email( $from ) : null;
		$state    = null !== $account ? $account['state'] : 'unknown';
		echo '<tr class="gmail-relay-bridge-site" data-site="' . esc_attr( (string) $site_id ) . '" data-login="' . esc_attr( (string) $settings->get( 'user' ) ) . '" data-account="' . esc_attr( null !== $account ? $account['name'] : '' ) . '" data-state="' . esc_attr( $state ) . '">';
		echo '<td><strong>' . esc_html( self::site_name( $site_id ) ) . '</strong><br /><a href="' . esc_url( get_admin_url( $site_id, 'tools.php?page=' . Gmail_Relay_Bridge_Admin::TOOLS_PAGE ) ) . '"><code>' . esc_html( get_home_url( $site_id ) ) . '</code></a></td>';

		echo '<td>';
		if ( '' !== (string) $settings->get( 'user' ) ) {
			echo '<code>' . esc_html( (string) $settings->get( 'user' ) ) . '</code> ';
		}
		$origins = array(
			'constant' => __( '(wp-config.php)', 'gmail-relay-bridge' ),
			'site'     => __( '(this site\'s own)', 'gmail-relay-bridge' ),
			'option'   => __( '(the network\'s)', 'gmail-relay-bridge' ),
			'default'  => '',
		);
		echo esc_html( $origins[ $settings->source( 'user' ) ] );
		if ( ! $settings->can_send() ) {
			$why = array_merge( $settings->missing(), array_keys( array_diff_key( $settings->errors(), array( 'status_url' => true ) ) ) );
			/* translators: %s: settings such as "pass". */
			echo '<br /><span class="gmail-relay-bridge-not-routed" style="color:#b32d2e">' . esc_html( sprintf( __( 'Mail is not routed through the relay: %s not set or not valid.', 'gmail-relay-bridge' ), implode( ', ', array_map( array( $settings, 'constant_name' ), $why ) ) ) ) . '</span>';
		}
		if ( '' !== $ignored && '' !== $settings->site_login_ignored_by() ) {
			/* translators: %s: constant name. */
			echo '<br />' . esc_html( sprintf( __( 'Its own login is not used: %s is in wp-config.php.', 'gmail-relay-bridge' ), $ignored ) );
		}
		echo '</td>';

		echo '<td>';
		if ( null !== $account ) {
			echo '<strong>' . esc_html( $account['name'] ) . '</strong> &lt;' . esc_html( $account['email'] ) . '&gt;';
		} elseif ( '' === $from ) {
			echo esc_html__( 'No From address is set, so the relay account is unknown.', 'gmail-relay-bridge' );
		} elseif ( null !== $status && $status->reachable ) {
			/* translators: %s: email address. */
			echo esc_html( sprintf( __( 'No relay account sends as %s.', 'gmail-relay-bridge' ), $from ) );
		} else {
			echo '&lt;' . esc_html( $from ) . '&gt;';
		}
		echo '</td>';

		echo '<td class="gmail-relay-bridge-state">';
		if ( null !== $account ) {
			echo esc_html( Gmail_Relay_Bridge_Admin::state_label( $state ) );
			if ( null !== $account['problem'] ) {
				echo '<br /><strong>' . esc_html( $account['problem']['title'] ) . '</strong>';
				if ( '' !== $account['problem']['code'] ) {
					echo ' <code>' . esc_html( $account['problem']['code'] ) . '</code>';
				}
				if ( array() !== $account['problem']['steps'] ) {
					echo '<br />' . esc_html( $account['problem']['steps'][0] );
				}
			}
			if ( null !== $account['warning'] ) {
				echo '<br /><span class="gmail-relay-bridge-warning">' . esc_html( $account['warning']['text'] ) . '</span>';
			}
		} else {
			echo esc_html( Gmail_Relay_Bridge_Admin::state_label( 'unknown' ) );
		}
		echo '</td>';

		echo '<td>';
		if ( null !== $account ) {
			echo esc_html(
				sprintf(
					/* translators: 1: queued, 2: held, 3: failed. */
					__( 'queued: %1$d, held: %2$d, failed: %3$d', 'gmail-relay-bridge' ),
					$account['messages']['queued'],
					$account['messages']['held'],
					$account['messages']['failed']
				)
			);
		}
		echo '</td>';

		echo '<td>';
		$reply   = get_blog_option( $site_id, Gmail_Relay_Bridge_Plugin::LAST_REPLY_OPTION );
		$failure = get_blog_option( $site_id, Gmail_Relay_Bridge_Plugin::LAST_FAILURE_OPTION );
		$format  = get_option( 'date_format' ) . ' ' . get_option( 'time_format' );
		if ( is_array( $reply ) && ! empty( $reply['time'] ) ) {
			echo esc_html( (string) wp_date( $format, (int) $reply['time'] ) ) . ': <code class="gmail-relay-bridge-reply">' . esc_html( (string) $reply['reply'] ) . '</code>';
		} else {
			echo esc_html__( 'No mail through the relay yet.', 'gmail-relay-bridge' );
		}
		if ( is_array( $failure ) && ! empty( $failure['time'] ) ) {
			$detail = ! empty( $failure['detail'] ) ? (string) $failure['detail'] : (string) $failure['message'];
			/* translators: %s: date and time. */
			echo '<br /><span class="gmail-relay-bridge-last-failure">' . esc_html( sprintf( __( 'Last failure %s:', 'gmail-relay-bridge' ), (string) wp_date( $format, (int) $failure['time'] ) ) ) . ' <code>' . esc_html( $detail ) . '</code></span>';
		}
		echo '</td></tr>';
	}

	/**
	 * A site's Settings → Gmail Relay on a network.
	 */
	public function render_site_settings_note() {
		if ( ! current_user_can( Gmail_Relay_Bridge_Admin::CAPABILITY ) ) {
			wp_die( esc_html__( 'You are not allowed to change these settings.', 'gmail-relay-bridge' ), 403 );
		}
		echo '<div class="wrap"><h1>' . esc_html__( 'Gmail Relay settings', 'gmail-relay-bridge' ) . '</h1>';
		echo '<p class="gmail-relay-bridge-network-note">' . esc_html__( 'On this network the relay settings, this site\'s login included, are kept by the network administrator.', 'gmail-relay-bridge' ) . '</p>';
		if ( current_user_can( self::CAPABILITY ) ) {
			echo '<p><a class="button button-primary" href="' . esc_url( network_admin_url( 'settings.php?page=' . self::SETTINGS_PAGE ) ) . '">' . esc_html__( 'Open the network settings', 'gmail-relay-bridge' ) . '</a></p>';
		}
		echo '<p><a href="' . esc_url( admin_url( 'tools.php?page=' . Gmail_Relay_Bridge_Admin::TOOLS_PAGE ) ) . '">' . esc_html__( 'The settings this site uses, and a test email', 'gmail-relay-bridge' ) . '</a></p></div>';
	}

	/**
	 * Shows (once) what the last save refused.
	 */
	private function render_save_notice() {
		if ( ! isset( $_GET['updated'] ) ) { // phpcs:ignore WordPress.Security.NonceVerification.Recommended -- only selects a notice.
			return;
		}
		$key    = self::NOTICE_TRANSIENT . get_current_user_id();
		$errors = get_site_transient( $key );
		delete_site_transient( $key );
		echo '<div class="notice notice-success is-dismissible"><p>' . esc_html__( 'Settings saved.', 'gmail-relay-bridge' ) . '</p></div>';
		if ( is_array( $errors ) && array() !== $errors ) {
			echo '<div class="notice notice-error gmail-relay-bridge-save-errors"><p>' . esc_html__( 'These values were not saved (the previous ones are kept):', 'gmail-relay-bridge' ) . '</p><ul>';
			foreach ( $errors as $message ) {
				echo '<li>' . esc_html( (string) $message ) . '</li>';
			}
			echo '</ul></div>';
		}
	}

	/**
	 * @return string GMAIL_RELAY_USER or GMAIL_RELAY_PASS when one is defined (the sites' own
	 *                logins are then unused), else ''.
	 */
	private function login_constant() {
		foreach ( array( 'user', 'pass' ) as $field ) {
			$name = Gmail_Relay_Bridge_Settings::CONSTANTS[ $field ];
			if ( null !== Gmail_Relay_Bridge_Plugin::constant_value( $name ) ) {
				return $name;
			}
		}
		return '';
	}

	/**
	 * @param int $site_id Site.
	 * @return string Its title.
	 */
	private static function site_name( $site_id ) {
		return wp_specialchars_decode( (string) get_blog_option( $site_id, 'blogname' ), ENT_QUOTES );
	}

	/**
	 * @param string $field Field name.
	 * @return string Its label.
	 */
	private static function label( $field ) {
		$labels = array(
			'host'        => __( 'Relay host', 'gmail-relay-bridge' ),
			'port'        => __( 'Relay port', 'gmail-relay-bridge' ),
			'user'        => __( 'SMTP login (sites without their own)', 'gmail-relay-bridge' ),
			'pass'        => __( 'SMTP password (sites without their own)', 'gmail-relay-bridge' ),
			'security'    => __( 'Security', 'gmail-relay-bridge' ),
			'from'        => __( 'From address (sites without their own)', 'gmail-relay-bridge' ),
			'status_url'  => __( 'Relay status URL', 'gmail-relay-bridge' ),
			'read_token'  => __( 'Relay read token', 'gmail-relay-bridge' ),
			'tls_ca_file' => __( 'Certificate to trust (PEM file)', 'gmail-relay-bridge' ),
		);
		return $labels[ $field ];
	}
}
